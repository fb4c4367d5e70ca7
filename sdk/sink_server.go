package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk/arrowipc"
)

// Write serves one sink instance.
func (s *server) Write(stream adfv1.Sink_WriteServer) (err error) {
	send := stream.Send
	defer func() {
		if err != nil && !streamCancelled(stream.Context(), err) {
			_ = send(&adfv1.SinkEvent{Event: &adfv1.SinkEvent_Error{Error: Diagnostics(err)[0]}})
			err = nil
		}
	}()
	defer recoverInto(&err)
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return &Error{Code: CodeInternal, Summary: "sink stream must begin with Open"}
	}
	comp, cfg, err := s.p.config(KindSink, open.Type, open.Config)
	if err != nil {
		return err
	}
	sink, err := comp.newSink(cfg)
	if err != nil {
		return err
	}
	var schema *arrow.Schema
	if len(open.ArrowSchema) > 0 {
		if schema, err = arrowipc.DecodeSchema(open.ArrowSchema); err != nil {
			return err
		}
	}
	init := SinkInit{
		Schema: schema,
		Flow:   open.Flow,
		RunID:  open.RunId,
		Reject: func(r Rejected) error {
			return send(&adfv1.SinkEvent{Event: &adfv1.SinkEvent_Rejected{
				Rejected: &adfv1.ReaderEvent_Rejected{Records: []*adfv1.RejectedRecord{rejectedToProto(r)}}}})
		},
	}
	if open.HasRestoredState {
		init.RestoredState = open.RestoredState
		if init.RestoredState == nil {
			init.RestoredState = []byte{}
		}
		init.RestoredCheckpointID = open.RestoredCheckpointId
	}
	// Close discards whatever was not flushed: on any exit path.
	defer sink.Close(context.WithoutCancel(ctx))
	if err := sink.Open(ctx, init); err != nil {
		return err
	}
	if err := send(&adfv1.SinkEvent{Event: &adfv1.SinkEvent_Opened_{Opened: &adfv1.SinkEvent_Opened{}}}); err != nil {
		return err
	}
	for {
		cmd, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch c := cmd.Command.(type) {
		case *adfv1.SinkCommand_Batch_:
			rec, err := arrowipc.Decode(c.Batch.ArrowIpc, nil)
			if err != nil {
				return err
			}
			err = sink.Write(ctx, rec)
			rec.Release()
			if err != nil {
				return err
			}
		case *adfv1.SinkCommand_Flush_:
			res, err := sink.Flush(ctx, c.Flush.CheckpointId, c.Flush.Final)
			if err != nil {
				return err
			}
			if err := send(&adfv1.SinkEvent{Event: &adfv1.SinkEvent_Flushed_{Flushed: &adfv1.SinkEvent_Flushed{
				CheckpointId: c.Flush.CheckpointId, RowsWritten: res.RowsWritten, BytesWritten: res.BytesWritten,
				State: res.State, Committables: res.Committables}}}); err != nil {
				return err
			}
		case *adfv1.SinkCommand_Commit_:
			if err := commitSink(ctx, sink, CommitRequest{CheckpointID: c.Commit.CheckpointId,
				Committables: c.Commit.Committables, Restored: c.Commit.Restored, Final: c.Commit.Final}); err != nil {
				return err
			}
			if err := send(&adfv1.SinkEvent{Event: &adfv1.SinkEvent_Committed_{Committed: &adfv1.SinkEvent_Committed{
				CheckpointId: c.Commit.CheckpointId}}}); err != nil {
				return err
			}
		case *adfv1.SinkCommand_CheckpointComplete_:
			// Sent only to sinks without two_phase; kept for hosts that
			// predate Commit.
			if err := commitSink(ctx, sink, CommitRequest{CheckpointID: c.CheckpointComplete.CheckpointId}); err != nil {
				return err
			}
		default:
			return &Error{Code: CodeInternal, Summary: fmt.Sprintf("unexpected sink command %T", cmd.Command)}
		}
	}
}

// streamCancelled says whether err is the end of a stream the host
// cancelled: nothing is left to tell it. A cancellation error of the
// plugin's own (a query or call the component cancelled) is an error like
// any other and goes to the host as a diagnostic.
func streamCancelled(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && ctx.Err() != nil
}

// commitSink commits a checkpoint: Committer.Commit for two-phase sinks, a
// notification for the others.
func commitSink(ctx context.Context, sink Sink, req CommitRequest) error {
	switch s := sink.(type) {
	case Committer:
		if err := s.Commit(ctx, req); err != nil {
			return fmt.Errorf("commit checkpoint %d: %w", req.CheckpointID, err)
		}
	case CheckpointListener:
		return s.NotifyCheckpointComplete(ctx, req.CheckpointID)
	}
	return nil
}

// Process serves one transform instance.
func (s *server) Process(stream adfv1.Transform_ProcessServer) (err error) {
	send := stream.Send
	defer func() {
		if err != nil && !streamCancelled(stream.Context(), err) {
			_ = send(&adfv1.TransformEvent{Event: &adfv1.TransformEvent_Error{Error: Diagnostics(err)[0]}})
			err = nil
		}
	}()
	defer recoverInto(&err)
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return &Error{Code: CodeInternal, Summary: "transform stream must begin with Open"}
	}
	comp, cfg, err := s.p.config(KindTransform, open.Type, open.Config)
	if err != nil {
		return err
	}
	t, err := comp.newTransform(cfg)
	if err != nil {
		return err
	}
	if err := send(&adfv1.TransformEvent{Event: &adfv1.TransformEvent_Opened_{Opened: &adfv1.TransformEvent_Opened{}}}); err != nil {
		return err
	}
	for {
		cmd, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b := cmd.GetBatch()
		if b == nil {
			return &Error{Code: CodeInternal, Summary: fmt.Sprintf("unexpected transform command %T", cmd.Command)}
		}
		in, err := arrowipc.Decode(b.ArrowIpc, nil)
		if err != nil {
			return err
		}
		out, rejected, err := t.Process(ctx, in)
		in.Release()
		if err != nil {
			return err
		}
		res := &adfv1.TransformEvent_Result{}
		if out != nil {
			if out.NumRows() > 0 {
				res.ArrowIpc, err = arrowipc.Encode(out)
			}
			out.Release()
			if err != nil {
				return err
			}
		}
		for _, r := range rejected {
			res.Rejected = append(res.Rejected, rejectedToProto(r))
		}
		if err := send(&adfv1.TransformEvent{Event: &adfv1.TransformEvent_Result_{Result: res}}); err != nil {
			return err
		}
	}
}

func (s *server) runtime(typ string, cfg []byte) (Runtime, error) {
	comp, v, err := s.p.config(KindRuntime, typ, cfg)
	if err != nil {
		return nil, err
	}
	return comp.newRuntime(v)
}

// Validate serves Runtime.Validate.
func (s *server) Validate(ctx context.Context, req *adfv1.RuntimeValidate_Request) (resp *adfv1.RuntimeValidate_Response, err error) {
	defer recoverInto(&err)
	rt, err := s.runtime(req.Type, req.Config)
	if err == nil {
		err = rt.Validate(ctx, RuntimeJob{Flow: req.Flow, Components: runtimeComponents(req.Components)})
	}
	return &adfv1.RuntimeValidate_Response{Diagnostics: Diagnostics(err)}, nil
}

// Submit serves Runtime.Submit.
func (s *server) Submit(ctx context.Context, req *adfv1.RuntimeSubmit_Request) (resp *adfv1.RuntimeSubmit_Response, err error) {
	defer recoverInto(&err)
	rt, err := s.runtime(req.Type, req.Config)
	var id string
	if err == nil {
		id, err = rt.Submit(ctx, RuntimeJob{Flow: req.Flow, RunID: req.RunId, Components: runtimeComponents(req.Components)})
	}
	return &adfv1.RuntimeSubmit_Response{JobId: id, Diagnostics: Diagnostics(err)}, nil
}

func runtimeComponents(pcs []*adfv1.RuntimeComponent) []RuntimeComponent {
	out := make([]RuntimeComponent, 0, len(pcs))
	for _, c := range pcs {
		out = append(out, RuntimeComponent{Kind: KindFromProto(c.Kind), Type: c.Type, Index: int(c.Index), Executable: c.Executable, Plugin: c.Plugin})
	}
	return out
}

// RuntimeComponentsToProto converts components for a runtime request.
func RuntimeComponentsToProto(cs []RuntimeComponent) []*adfv1.RuntimeComponent {
	out := make([]*adfv1.RuntimeComponent, 0, len(cs))
	for _, c := range cs {
		out = append(out, &adfv1.RuntimeComponent{Kind: kindToProto(c.Kind), Type: c.Type, Index: int32(c.Index), Executable: c.Executable, Plugin: c.Plugin})
	}
	return out
}

// Status serves Runtime.Status.
func (s *server) Status(ctx context.Context, req *adfv1.RuntimeStatus_Request) (resp *adfv1.RuntimeStatus_Response, err error) {
	defer recoverInto(&err)
	rt, err := s.runtime(req.Type, req.Config)
	var st RuntimeStatus
	if err == nil {
		st, err = rt.Status(ctx, req.JobId)
	}
	return &adfv1.RuntimeStatus_Response{State: st.State, RecordsRead: st.RecordsRead, RecordsWritten: st.RecordsWritten, RecordsRejected: st.RecordsRejected,
		Message: st.Message, Diagnostics: Diagnostics(err)}, nil
}

// Cancel serves Runtime.Cancel.
func (s *server) Cancel(ctx context.Context, req *adfv1.RuntimeCancel_Request) (resp *adfv1.RuntimeCancel_Response, err error) {
	defer recoverInto(&err)
	rt, err := s.runtime(req.Type, req.Config)
	if err == nil {
		err = rt.Cancel(ctx, req.JobId)
	}
	return &adfv1.RuntimeCancel_Response{Diagnostics: Diagnostics(err)}, nil
}
