package licsrv

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStores runs the same checks on the bbolt and the memory store: a
// failed update leaves nothing behind, keys iterate in order by prefix,
// sequences count from 1; the bbolt store keeps its state across a reopen.
func TestStores(t *testing.T) {
	dir := t.TempDir()
	for name, open := range map[string]func() (kvStore, error){
		"bbolt":  func() (kvStore, error) { return openStore(dir) },
		"memory": func() (kvStore, error) { return openStore("") },
	} {
		t.Run(name, func(t *testing.T) {
			db, err := open()
			require.NoError(t, err)
			defer func() { require.NoError(t, db.close()) }()
			boom := errors.New("boom")
			err = db.update(func(tx kvTx) error {
				require.NoError(t, tx.put(bktAcks, []byte("x"), []byte("1")))
				_, err := tx.nextSeq(bktAcks)
				require.NoError(t, err)
				require.Equal(t, []byte("1"), tx.get(bktAcks, []byte("x")), "a transaction sees its own writes")
				return boom
			})
			require.ErrorIs(t, err, boom)
			require.NoError(t, db.update(func(tx kvTx) error {
				require.Nil(t, tx.get(bktAcks, []byte("x")), "a failed update leaves nothing")
				seq, err := tx.nextSeq(bktAcks)
				require.NoError(t, err)
				require.Equal(t, uint64(1), seq, "nor a sequence number")
				for _, k := range []string{"b2", "a1", "b1", "c"} {
					require.NoError(t, tx.put(bktStreams, []byte(k), []byte(k)))
				}
				return tx.del(bktStreams, []byte("c"))
			}))
			var got []string
			require.NoError(t, db.view(func(tx kvTx) error {
				require.Error(t, tx.put(bktStreams, []byte("z"), nil), "a view cannot write")
				return tx.each(bktStreams, []byte("b"), func(k, v []byte) error {
					require.Equal(t, k, v)
					got = append(got, string(k))
					return nil
				})
			}))
			require.Equal(t, []string{"b1", "b2"}, got)
		})
	}
	db, err := openStore(dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.close()) }()
	require.NoError(t, db.view(func(tx kvTx) error {
		require.Equal(t, []byte("a1"), tx.get(bktStreams, []byte("a1")), "bbolt keeps its state across a reopen")
		return nil
	}))
}

// appendJSON numbers records in arrival order; readJSON returns them in
// that order and names a record that does not decode.
func TestAppendReadJSON(t *testing.T) {
	db, err := openStore("")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.close()) }()
	require.NoError(t, db.update(func(tx kvTx) error {
		for i, js := range []string{`{"transaction_id":"a"}`, `{"transaction_id":"b"}`} {
			seq, err := appendJSON(tx, bktAcks, []byte(js))
			require.NoError(t, err)
			require.Equal(t, uint64(i+1), seq)
		}
		return nil
	}))
	got, err := readJSON[LicenseAck](db, bktAcks, "acknowledgement")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "a", got[0].TransactionID)
	require.Equal(t, "b", got[1].TransactionID)
	require.NoError(t, db.update(func(tx kvTx) error { _, err := appendJSON(tx, bktAcks, []byte("{")); return err }))
	got, err = readJSON[LicenseAck](db, bktAcks, "acknowledgement")
	require.EqualError(t, err, "licsrv: stored acknowledgement is corrupt")
	require.Nil(t, got)
}
