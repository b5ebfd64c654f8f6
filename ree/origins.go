package ree

// ServerOrigins returns the license server origins (scheme://host:port)
// whose certificates the device's store caches: the servers it has
// acquired from.
func (d *Device) ServerOrigins() ([]string, error) { return d.store.ServerOrigins() }
