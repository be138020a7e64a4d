package shm_test

import (
	"fmt"
	"log"
	"os/exec"

	"github.com/shmring/shmring/shm"
)

// A parent passes an anonymous region to a child. The child can be any
// program: this one is a shell that writes into the region through the
// descriptor whose number Share put in SHMRING_FD_greeting. A Go child
// would call shm.Inherit("greeting").
func ExampleRegion_Share() {
	r, err := shm.Anonymous(4096)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	cmd := exec.Command("sh", "-c", `printf 'hello from the child' >&"$SHMRING_FD_greeting"`)
	if err := r.Share(cmd, "greeting"); err != nil {
		log.Fatal(err)
	}
	if err := cmd.Run(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(r.Bytes()[:20]))
	// Output: hello from the child
}
