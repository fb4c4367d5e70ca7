// Package sql is the sql plugin: the PostgreSQL sink and source (component
// type "postgres"), in the "ActiveRecord" role: tables named directly or by a
// Rails-style model name, append through binary COPY, upsert and
// insert_ignore, one transaction per checkpoint committed in two phases
// (PREPARE TRANSACTION at flush, COMMIT PREPARED once the checkpoint is
// durable: exactly-once), rejected rows isolated with PostgreSQL's error; and a FLIP-27 source reading a table or query in
// parallel key-range splits, with an incremental mode driven by a cursor
// column. It is built only on sdk/ and pgx.
package sql

import "github.com/activedataflow/adf/sdk"

// Version of the plugin.
const Version = "0.1.0"

// Plugin returns the sql plugin's components.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "sql",
		Version: Version,
		Components: []sdk.Component{
			sdk.NewSource("postgres", "a PostgreSQL table or query, read in parallel key-range splits; incremental by a cursor column",
				sdk.Capabilities{Bounded: true, Checkpointing: true},
				func(cfg *SourceConfig) (sdk.Source, error) { return newSource(cfg), nil }),
			// Exactly-once through prepared transactions. On a server with
			// max_prepared_transactions = 0, append refuses to open and
			// upsert/insert_ignore commit at flush (idempotent); see README.
			sdk.NewSink("postgres", "a PostgreSQL table: append (binary COPY), upsert or insert_ignore; one transaction per checkpoint, prepared at flush and committed once the checkpoint is durable (exactly-once; needs max_prepared_transactions > 0, else upsert/insert_ignore are idempotent and append refuses)",
				sdk.Capabilities{Bounded: true, Unbounded: true, Checkpointing: true, Delivery: sdk.DeliveryExactlyOnce},
				func(cfg *SinkConfig) (sdk.Sink, error) { return newSink(cfg), nil }),
		},
	}
}
