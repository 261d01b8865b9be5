//go:build !race

package testenv

// Race reports whether the tests run with -race; Binary then builds with
// it too.
const Race = false
