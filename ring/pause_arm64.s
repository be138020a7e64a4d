#include "textflag.h"

// func cpuRelax()
// YIELD hints that this is a spin-wait loop (see pause_amd64.s).
TEXT ·cpuRelax(SB), NOSPLIT|NOFRAME, $0-0
	YIELD
	RET
