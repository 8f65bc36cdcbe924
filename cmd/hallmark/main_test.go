package main

import (
	"os"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop() // the PostgreSQL server of the tests, if one started
	os.Exit(code)
}
