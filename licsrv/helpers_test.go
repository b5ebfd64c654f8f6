package licsrv_test

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/require"
)

func ctr(t *testing.T, key [16]byte, plain []byte) []byte {
	b, err := aes.NewCipher(key[:])
	require.NoError(t, err)
	out := make([]byte, len(plain))
	cipher.NewCTR(b, make([]byte, 16)).XORKeyStream(out, plain)
	return out
}
