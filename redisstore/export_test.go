package redisstore

// UseClusterSteps makes s change sessions and indexes in the single-key
// steps it uses in a cluster, so tests can check their ordering on one node.
func UseClusterSteps(s *Store) { s.stepwise = true }
