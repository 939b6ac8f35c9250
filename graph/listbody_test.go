package graph

import (
	"encoding/json"
	"testing"
)

// TestListBodyEncode checks that a page written with its items put in as
// they are reads exactly as encoding/json writes it.
func TestListBodyEncode(t *testing.T) {
	count := 2
	items := []json.RawMessage{json.RawMessage(`{"id":"a","n":1}`), json.RawMessage(`{"id":"b<&>","value":null}`)}
	tests := []listBody{
		{Context: "https://x/$metadata#users", Value: items},
		{Context: "c", Count: &count, Value: items, NextLink: "https://x/next?$skiptoken=z"},
		{Context: `odd "value":null context`, Value: []json.RawMessage{}},
		{Context: "c", Count: &count, Value: nil},
	}
	for _, b := range tests {
		want, err := marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.encode()
		if err != nil {
			t.Fatal(err)
		}
		if b.Value == nil {
			// encoding/json writes a nil slice as null; a page always has a list.
			want = []byte(`{"@odata.context":"c","@odata.count":2,"value":[]}`)
		}
		if string(got) != string(want) {
			t.Errorf("encode:\n got %s\nwant %s", got, want)
		}
	}
}
