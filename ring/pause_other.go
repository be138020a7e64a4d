//go:build !amd64 && !arm64

package ring

// cpuRelax has no spin-wait hint to give on this architecture.
func cpuRelax() {}
