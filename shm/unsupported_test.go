//go:build !unix

package shm_test

import (
	"errors"
	"os/exec"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shmring/shmring/shm"
)

func TestUnsupported(t *testing.T) {
	var r shm.Region
	_, errCreate := shm.Create("region", 4096)
	_, errOpen := shm.Open("region")
	_, errAnonymous := shm.Anonymous(4096)
	_, errInherit := shm.Inherit("region")
	for _, err := range []error{
		errCreate, errOpen, errAnonymous, errInherit,
		shm.Remove("region"), r.Sync(), r.Share(exec.Command("x"), "region"),
	} {
		assert.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
		assert.ErrorContains(t, err, "not supported on "+runtime.GOOS)
	}
	assert.NoError(t, r.Close())
	assert.Nil(t, r.Bytes())
	assert.Equal(t, "SHMRING_FD_region", shm.EnvName("region"))
}
