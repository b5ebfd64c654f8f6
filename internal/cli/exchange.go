package cli

import (
	"net/url"
	"path/filepath"

	"github.com/prsim/prsim/ree"
)

// checkLicenseURL refuses a --url that cannot be a license URL before any
// work is done: a usage mistake (exit 1), not a DRM failure. The URL itself
// is not quoted: its query may carry test-server secrets (cfg contentkey).
func checkLicenseURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return usagef("--url is not a URL; give an http:// or https:// license URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return usagef("--url must be an http:// or https:// license URL, got no scheme")
		}
		return usagef("--url must be an http:// or https:// license URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return usagef("--url must name a host (%s://HOST/…)", u.Scheme)
	}
	return nil
}

// saveExchanges points the device's client at an exchange directory when
// dir is set (--save-exchange); nil, nil otherwise.
func saveExchanges(d *ree.Device, dir string) (*ree.ExchangeDir, error) {
	if dir == "" {
		return nil, nil
	}
	x, err := ree.NewExchangeDir(dir)
	if err != nil {
		return nil, withHint(err, "--save-exchange needs a directory prsim can create and write")
	}
	d.Client.SetRecorder(x)
	return x, nil
}

// exchangeFiles lists the files saved in x (paths including the directory)
// and folds a save failure into err when the exchange itself succeeded: a
// requested record that is incomplete is a failure.
func exchangeFiles(x *ree.ExchangeDir, err error) ([]string, error) {
	if x == nil {
		return nil, err
	}
	files := []string{}
	for _, f := range x.Files() {
		files = append(files, filepath.Join(x.Dir(), f))
	}
	if err == nil {
		err = x.Err()
	}
	return files, err
}
