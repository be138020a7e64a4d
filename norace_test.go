//go:build !race

package shmring_test

const raceEnabled = false
