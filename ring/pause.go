//go:build amd64 || arm64

package ring

// cpuRelax is a spin-wait hint for the CPU; see pause_amd64.s.
//
//go:noescape
func cpuRelax()
