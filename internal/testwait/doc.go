// Package testwait polls a condition in tests until it holds or a
// deadline passes, for state another goroutine or process changes.
package testwait
