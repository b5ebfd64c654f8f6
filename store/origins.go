package store

import (
	"sort"

	bolt "go.etcd.io/bbolt"
)

// ServerOrigins returns the origins (scheme://host:port) whose license
// server certificate the store caches, sorted: the servers the device has
// talked to (prsim clock sync without --url uses the only one).
func (s *Store) ServerOrigins() ([]string, error) {
	var out []string
	err := s.do(func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			return bucket(tx, bucketServers).ForEach(func(k, _ []byte) error {
				out = append(out, string(k))
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}
