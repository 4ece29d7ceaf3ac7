package store

import (
	"context"
	"errors"
	"testing"
)

func TestRecursiveLoop(t *testing.T) {
	ctx := context.Background()
	db, _ := newLambdaDB(t)
	mustCreateFunction(t, db, acctA, "a")
	mustCreateFunction(t, db, acctB, "a")

	if got, err := db.RecursiveLoop(ctx, acctA, "a"); err != nil || got != RecursiveLoopTerminate {
		t.Fatalf("RecursiveLoop of a new function = %q, %v; want Terminate (Lambda's default)", got, err)
	}
	tests := []struct {
		acct, fn, mode string
		wantErr        error
	}{
		{acctA, "a", RecursiveLoopAllow, nil},
		{acctA, "a", "Maybe", ErrInvalid},
		{acctA, "nope", RecursiveLoopAllow, ErrNotFound},
	}
	for _, tt := range tests {
		if err := db.SetRecursiveLoop(ctx, tt.acct, tt.fn, tt.mode); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("SetRecursiveLoop(%s, %s, %q) = %v, want %v", tt.acct, tt.fn, tt.mode, err, tt.wantErr)
		}
	}
	if got, _ := db.RecursiveLoop(ctx, acctA, "a"); got != RecursiveLoopAllow {
		t.Errorf("RecursiveLoop of a after Allow (and a refused value) = %q, want Allow", got)
	}
	if got, _ := db.RecursiveLoop(ctx, acctB, "a"); got != RecursiveLoopTerminate {
		t.Errorf("RecursiveLoop of the other account's a = %q, want Terminate", got)
	}
	if _, err := db.RecursiveLoop(ctx, acctA, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecursiveLoop of a missing function: %v, want ErrNotFound", err)
	}
	// The setting goes with the function: a new function of the same name
	// starts from the default again.
	if err := db.DeleteFunction(ctx, acctA, "a"); err != nil {
		t.Fatal(err)
	}
	mustCreateFunction(t, db, acctA, "a")
	if got, _ := db.RecursiveLoop(ctx, acctA, "a"); got != RecursiveLoopTerminate {
		t.Errorf("RecursiveLoop of a re-created function = %q, want Terminate", got)
	}
}
