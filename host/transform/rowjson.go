package transform

import (
	"bytes"
	"encoding/json"

	"github.com/apache/arrow-go/v18/arrow"
)

// rowJSON renders row i of rec as a JSON object (column -> value) in schema
// order.
func rowJSON(rec arrow.Record, i int) string {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for c, f := range rec.Schema().Fields() {
		if c > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		buf.Write(k)
		buf.WriteByte(':')
		col := rec.Column(c)
		if col.IsNull(i) {
			buf.WriteString("null")
			continue
		}
		v, err := json.Marshal(col.GetOneForMarshal(i))
		if err != nil {
			v, _ = json.Marshal(col.ValueStr(i))
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.String()
}
