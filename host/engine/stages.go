package engine

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/host/registry"
	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk/arrowipc"
)

// stage is one transform as one reader's goroutine uses it.
type stage interface {
	// apply returns the transformed batch (nil when empty) and the rows it
	// rejected. It does not release in.
	apply(ctx context.Context, in arrow.RecordBatch, split string) (arrow.RecordBatch, []Rejected, error)
	close()
}

func (a *attempt) openStages(instances map[string]*registry.Instance) ([]stage, error) {
	var out []stage
	for _, st := range a.plan.stages {
		if st.builtin != nil {
			out = append(out, &builtinStage{a: a, spec: st})
			continue
		}
		s, err := openPluginStage(a, instances[st.typ], st)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// builtinStage runs a transform built into the host.
type builtinStage struct {
	a    *attempt
	spec stageSpec
}

func (s *builtinStage) apply(ctx context.Context, in arrow.RecordBatch, split string) (arrow.RecordBatch, []Rejected, error) {
	out, rowErrs, err := s.spec.builtin.Apply(ctx, in)
	if err != nil {
		return nil, nil, fmt.Errorf("transforms[%d] (%s): %w", s.spec.index, s.spec.typ, err)
	}
	var rejects []Rejected
	for _, re := range rowErrs {
		pos := fmt.Sprintf("transforms[%d] row %d of a batch", s.spec.index, re.Row)
		rejects = append(rejects, s.a.dl.record("transform", split, pos, re.Reason, []byte(re.Record)))
	}
	return out, rejects, nil
}

func (s *builtinStage) close() {}

// pluginStage runs a transform in a plugin process over its own stream.
type pluginStage struct {
	a      *attempt
	spec   stageSpec
	stream adfv1.Transform_ProcessClient
}

func openPluginStage(a *attempt, inst *registry.Instance, st stageSpec) (*pluginStage, error) {
	what := fmt.Sprintf("transforms[%d] (%s)", st.index, st.typ)
	stream, err := inst.Transform().Process(a.ctx)
	if err != nil {
		return nil, a.streamErr(what, err)
	}
	if err := stream.Send(&adfv1.TransformCommand{Command: &adfv1.TransformCommand_Open_{
		Open: &adfv1.TransformCommand_Open{Type: st.typ, Config: st.config}}}); err != nil {
		return nil, a.streamErr(what, err)
	}
	ev, err := stream.Recv()
	if err != nil {
		return nil, a.streamErr(what, err)
	}
	if d := ev.GetError(); d != nil {
		return nil, diagErr(what, d)
	}
	return &pluginStage{a: a, spec: st, stream: stream}, nil
}

func (s *pluginStage) apply(_ context.Context, in arrow.RecordBatch, split string) (arrow.RecordBatch, []Rejected, error) {
	what := fmt.Sprintf("transforms[%d] (%s)", s.spec.index, s.spec.typ)
	b, err := arrowipc.Encode(in)
	if err != nil {
		return nil, nil, err
	}
	if err := s.stream.Send(&adfv1.TransformCommand{Command: &adfv1.TransformCommand_Batch_{
		Batch: &adfv1.TransformCommand_Batch{ArrowIpc: b}}}); err != nil {
		return nil, nil, s.a.streamErr(what, err)
	}
	ev, err := s.stream.Recv()
	if err != nil {
		return nil, nil, s.a.streamErr(what, err)
	}
	if d := ev.GetError(); d != nil {
		return nil, nil, diagErr(what, d)
	}
	res := ev.GetResult()
	var rejects []Rejected
	for _, r := range res.GetRejected() {
		sp := r.SplitId
		if sp == "" {
			sp = split
		}
		rejects = append(rejects, s.a.dl.record("transform", sp, r.Position, r.Reason, r.Raw))
	}
	if len(res.GetArrowIpc()) == 0 {
		return nil, rejects, nil
	}
	out, err := arrowipc.Decode(res.ArrowIpc, nil)
	if err != nil {
		return nil, nil, err
	}
	return out, rejects, nil
}

func (s *pluginStage) close() { _ = s.stream.CloseSend() }
