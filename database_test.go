package main

import (
	"strings"
	"testing"
)

func TestDatabaseTarget(t *testing.T) {
	const pg = "postgres://app:pw@db.example.org/lambdalab"
	tests := []struct {
		name, flag, env, data string
		want, wantErr         string
	}{
		{name: "default", data: "/srv/data", want: "/srv/data/lambdalab.db"},
		{name: "env URL", env: pg, data: "/srv/data", want: pg},
		{name: "env file", env: "/other/x.db", data: "/srv/data", want: "/other/x.db"},
		{name: "flag over env", flag: "postgresql:///x?host=/run/pg", env: pg, data: "/srv/data", want: "postgresql:///x?host=/run/pg"},
		{name: "flag file", flag: "local.db", env: pg, want: "local.db"},
		{name: "other scheme", flag: "mysql://u:secret@h/db", wantErr: "--database mysql://u:xxxxx@h/db: not a postgres"},
		{name: "other scheme in env", env: "sqlite:///x.db", wantErr: "LAMBDALAB_DATABASE_URL sqlite:///x.db: not a postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == databaseEnv {
					return tt.env
				}
				return ""
			}
			got, err := databaseTarget(tt.flag, tt.data, getenv)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "secret") {
					t.Errorf("databaseTarget(%q, %q, env %q) = %q, %v; want an error containing %q, no password", tt.flag, tt.data, tt.env, got, err, tt.wantErr)
				}
			case err != nil || got != tt.want:
				t.Errorf("databaseTarget(%q, %q, env %q) = %q, %v; want %q", tt.flag, tt.data, tt.env, got, err, tt.want)
			}
		})
	}
}
