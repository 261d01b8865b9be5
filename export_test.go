package latchkey

// NewMemoryAttempts returns the in-memory AttemptLimiter that Auth uses
// when its session store is not one, holding at most capacity keys, so
// tests can run the contract suite on it and flood it.
func NewMemoryAttempts(capacity int) AttemptLimiter { return &memoryAttempts{capacity: capacity} }
