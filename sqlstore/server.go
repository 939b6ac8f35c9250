package sqlstore

import (
	"time"

	"github.com/accessd/accessd/access"
)

// SigningKeys keeps CreatedAt as microseconds since the epoch, the precision
// both SQLite's integers and PostgreSQL's timestamps share, and returns it in UTC.
func (t *tx) SigningKeys() ([]access.SigningKey, error) {
	return list(t, scanSigningKey, "SELECT id, private_pem, created_at FROM signing_keys ORDER BY created_at, id")
}

func scanSigningKey(s scanner) (access.SigningKey, error) {
	var k access.SigningKey
	var pem string
	var created int64
	if err := s.Scan(&k.ID, &pem, &created); err != nil {
		return k, err
	}
	k.PrivatePEM, k.CreatedAt = []byte(pem), time.UnixMicro(created).UTC()
	return k, nil
}

// InsertSigningKeyIfAbsent claims the 'current' slot, whose UNIQUE constraint
// makes every racer but the first insert nothing, on any engine and across processes.
func (t *tx) InsertSigningKeyIfAbsent(k access.SigningKey) error {
	_, err := t.exec("INSERT INTO signing_keys (id, slot, private_pem, created_at) VALUES (?, 'current', ?, ?) ON CONFLICT DO NOTHING",
		k.ID, string(k.PrivatePEM), k.CreatedAt.UnixMicro())
	return err
}

func (t *tx) Setting(name string) (string, bool, error) {
	v, err := get(t, scanValue, errNoSetting, "SELECT value FROM settings WHERE name = ?", name)
	if err == errNoSetting {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// errNoSetting is only compared against, never returned.
var errNoSetting = access.NotFoundf("no such setting")

func scanValue(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

func (t *tx) PutSetting(name, value string) error {
	_, err := t.exec("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value)
	return err
}

func (t *tx) InsertSettingIfAbsent(name, value string) (string, error) {
	if _, err := t.exec("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value); err != nil {
		return "", err
	}
	stored, _, err := t.Setting(name)
	return stored, err
}
