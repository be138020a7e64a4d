//go:build unix

package shm_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/shmring/shmring/shm"
)

// Two mappings of one file share their bytes: what one stores, the other
// loads. Here both are in one process; across processes it is the same.
func Example() {
	dir, err := os.MkdirTemp("", "shm-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "region")

	w, err := shm.Create(path, 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	copy(w.Bytes(), "hello, region")

	r, err := shm.Open(path, shm.ReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(string(r.Bytes()[:13]), r.Size(), r.Writable())
	// Output: hello, region 4096 false
}

// In a child that its parent started after Region.Share(cmd, "ring"),
// Inherit maps the region the parent passed.
func ExampleInherit() {
	r, err := shm.Inherit("ring")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Printf("%d bytes from the parent\n", r.Size())
}
