package tpm

// Crash stops a launched swtpm as a killed prsim leaves it: swtpm gets
// SIGTERM and no TPM2_Shutdown was sent. tp is unusable afterwards.
func Crash(tp *TPM) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.o.crash == nil {
		panic("tpm: Crash needs an swtpm from LaunchSwtpm")
	}
	tp.o.crash()
}

// ParseSealed runs Unseal's blob parser alone (fuzzing).
func ParseSealed(b []byte) error {
	_, _, err := parseSealed(b)
	return err
}
