//go:build race

package e2e_test

// raceEnabled: the test binary runs with -race, so the latchkey binary under
// test is built with it too, and a data race in the server fails its run.
const raceEnabled = true
