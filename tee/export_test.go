package tee

import "errors"

// PowerCutBackend cuts the power of the backend's TPM without an orderly
// shutdown (a launched swtpm only): the rollback tests' way to reach the
// TPM under a device.
func PowerCutBackend(b *Backend) error {
	s, ok := b.ks.(*tpmStore)
	if !ok {
		return errors.New("tee: the backend has no TPM")
	}
	return s.t.PowerCut()
}

// RebootBackend reboots the backend's TPM in order (a TPM Reset).
func RebootBackend(b *Backend) error {
	s, ok := b.ks.(*tpmStore)
	if !ok {
		return errors.New("tee: the backend has no TPM")
	}
	return s.t.Reboot()
}
