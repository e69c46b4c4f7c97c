package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/reefhq/reef/hostfuncs/abi"
	"github.com/reefhq/reef/runtime/policy"
)

// hostFn is one function of the extism:host/env module.
type hostFn struct {
	name            string
	params, results []api.ValueType
	fn              api.GoModuleFunc
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func vt(t ...api.ValueType) []api.ValueType { return t }

// kernelFuncs is reef's native Extism kernel: every function of the
// extism:host/env module, plus reef's bulk-copy extensions. All are
// stack-based (api.GoModuleFunc): no reflection on the call path.
func kernelFuncs(e *Engine) []hostFn {
	fns := []hostFn{
		{"alloc", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = instOf(ctx).arena.Alloc(s[0])
		}},
		{"free", vt(i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			instOf(ctx).arena.Free(s[0])
		}},
		{"length", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = instOf(ctx).arena.Length(s[0])
		}},
		{"length_unsafe", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = instOf(ctx).arena.LengthUnsafe(s[0])
		}},
		{"load_u8", vt(i64), vt(i32), func(ctx context.Context, _ api.Module, s []uint64) {
			v, ok := instOf(ctx).arena.LoadU8(s[0])
			if !ok {
				panic(fmt.Errorf("load_u8: offset %d outside kernel memory", s[0]))
			}
			s[0] = uint64(v)
		}},
		{"load_u64", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			v, ok := instOf(ctx).arena.LoadU64(s[0])
			if !ok {
				panic(fmt.Errorf("load_u64: offset %d outside kernel memory", s[0]))
			}
			s[0] = v
		}},
		{"store_u8", vt(i64, i32), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			if !instOf(ctx).arena.StoreU8(s[0], byte(s[1])) {
				panic(fmt.Errorf("store_u8: offset %d outside kernel memory", s[0]))
			}
		}},
		{"store_u64", vt(i64, i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			if !instOf(ctx).arena.StoreU64(s[0], s[1]) {
				panic(fmt.Errorf("store_u64: offset %d outside kernel memory", s[0]))
			}
		}},
		{"input_length", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(len(instOf(ctx).input))
		}},
		{"input_offset", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			s[0] = in.arena.AllocBytes(in.input)
		}},
		{"input_load_u8", vt(i64), vt(i32), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if s[0] >= uint64(len(in.input)) {
				panic(fmt.Errorf("input_load_u8: offset %d past input of %d bytes", s[0], len(in.input)))
			}
			s[0] = uint64(in.input[s[0]])
		}},
		{"input_load_u64", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			off := s[0]
			if off+8 < off || off+8 > uint64(len(in.input)) {
				panic(fmt.Errorf("input_load_u64: offset %d past input of %d bytes", off, len(in.input)))
			}
			b := in.input[off : off+8]
			s[0] = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		}},
		{"input_set", vt(i64, i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			b, ok := in.arena.Range(s[0], s[1])
			if !ok {
				panic(errors.New("input_set: range outside kernel memory"))
			}
			in.input = append([]byte(nil), b...)
		}},
		{"output_set", vt(i64, i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if !in.checkOutput(s[1]) {
				panic(in.outErr)
			}
			in.outH, in.outLen, in.outSet, in.output = s[0], s[1], true, nil
		}},
		{"output_length", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if in.outSet {
				s[0] = in.outLen
			} else {
				s[0] = uint64(len(in.output))
			}
		}},
		{"output_offset", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if in.outSet {
				s[0] = in.outH
			} else {
				s[0] = in.arena.AllocBytes(in.output)
			}
		}},
		{"error_set", vt(i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if s[0] == 0 {
				in.errSet, in.errMsg = false, ""
				return
			}
			in.errSet, in.errMsg = true, string(in.arena.Bytes(s[0]))
		}},
		{"error_get", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			s[0] = 0
			if in.errSet {
				s[0] = in.arena.AllocBytes([]byte(in.errMsg))
			}
		}},
		{"reset", nil, nil, func(ctx context.Context, _ api.Module, s []uint64) {
			instOf(ctx).arena.Reset()
		}},
		{"memory_bytes", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = instOf(ctx).arena.Size()
		}},
		{"config_get", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			v, ok := in.p.config[string(in.arena.Bytes(s[0]))]
			s[0] = 0
			if ok {
				s[0] = in.arena.AllocBytes([]byte(v))
			}
		}},
		{"var_get", vt(i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			p := in.p
			p.varsMu.Lock()
			v, ok := p.vars[string(in.arena.Bytes(s[0]))]
			p.varsMu.Unlock()
			s[0] = 0
			if ok {
				s[0] = in.arena.AllocBytes(v)
			}
		}},
		{"var_set", vt(i64, i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			p := in.p
			k := string(in.arena.Bytes(s[0]))
			p.varsMu.Lock()
			defer p.varsMu.Unlock()
			if old, ok := p.vars[k]; ok {
				p.varBytes -= len(k) + len(old)
				delete(p.vars, k)
			}
			if s[1] == 0 {
				return
			}
			v := in.arena.Bytes(s[1])
			if p.varBytes+len(k)+len(v) > maxVarBytes {
				panic(fmt.Errorf("var_set: vars would exceed %d bytes", maxVarBytes))
			}
			p.vars[k] = append([]byte(nil), v...)
			p.varBytes += len(k) + len(v)
		}},
		{"http_request", vt(i64, i64), vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if e.extismHTTP == nil {
				d := in.pol.Deny(policy.CapHTTP, string(in.arena.Bytes(s[0])), "http capability not enabled in this reef")
				in.denial = d
				panic(d)
			}
			req := append([]byte(nil), in.arena.Bytes(s[0])...)
			var body []byte
			if s[1] != 0 {
				body = append([]byte(nil), in.arena.Bytes(s[1])...)
			}
			status, headers, resp, err := e.extismHTTP.ExtismRequest(hostCall{in}, req, body)
			if err != nil {
				var d *policy.Denial
				if errors.As(err, &d) {
					in.denial = d
				}
				panic(err)
			}
			in.httpStatus, in.httpHeaders = int32(status), headers
			s[0] = in.arena.AllocBytes(resp)
		}},
		{"http_status_code", nil, vt(i32), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(uint32(instOf(ctx).httpStatus))
		}},
		{"http_headers", nil, vt(i64), func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			s[0] = 0
			if in.httpHeaders != nil {
				b, _ := json.Marshal(in.httpHeaders)
				s[0] = in.arena.AllocBytes(b)
			}
		}},
		{"get_log_level", nil, vt(i32), func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(extismLevel(e.cfg.guestLogLvl))
		}},

		// reef bulk-copy extensions.
		{abi.ReefInputRead, vt(i32, i32), vt(i32), func(ctx context.Context, m api.Module, s []uint64) {
			in := instOf(ctx)
			n := min(uint32(s[1]), uint32(len(in.input)))
			if !m.Memory().Write(uint32(s[0]), in.input[:n]) {
				panic(errors.New("reef_input_read: destination outside guest memory"))
			}
			s[0] = uint64(n)
		}},
		{abi.ReefOutputWrite, vt(i32, i32), nil, func(ctx context.Context, m api.Module, s []uint64) {
			in := instOf(ctx)
			if !in.checkOutput(uint64(uint32(s[1]))) {
				panic(in.outErr)
			}
			b, ok := m.Memory().Read(uint32(s[0]), uint32(s[1]))
			if !ok {
				panic(errors.New("reef_output_write: source outside guest memory"))
			}
			out := make([]byte, len(b))
			copy(out, b)
			in.output, in.outSet = out, false
		}},
		{abi.ReefErrorWrite, vt(i32, i32), nil, func(ctx context.Context, m api.Module, s []uint64) {
			in := instOf(ctx)
			b, ok := m.Memory().Read(uint32(s[0]), min(uint32(s[1]), 64<<10))
			if !ok {
				panic(errors.New("reef_error_write: source outside guest memory"))
			}
			in.errSet, in.errMsg = true, string(b)
		}},
		{abi.ReefLoad, vt(i64, i32, i32), vt(i32), func(ctx context.Context, m api.Module, s []uint64) {
			in := instOf(ctx)
			b := in.arena.Bytes(s[0])
			n := min(uint32(s[2]), uint32(len(b)))
			if !m.Memory().Write(uint32(s[1]), b[:n]) {
				panic(errors.New("reef_load: destination outside guest memory"))
			}
			s[0] = uint64(n)
		}},
		{abi.ReefStore, vt(i32, i32), vt(i64), func(ctx context.Context, m api.Module, s []uint64) {
			in := instOf(ctx)
			b, ok := m.Memory().Read(uint32(s[0]), uint32(s[1]))
			if !ok {
				panic(errors.New("reef_store: source outside guest memory"))
			}
			if len(b) == 0 {
				s[0] = in.arena.Alloc(0)
				return
			}
			s[0] = in.arena.AllocBytes(b) // copies every byte: no zeroing pass
		}},
	}
	for _, lv := range []struct {
		name  string
		level slog.Level
	}{{"log_trace", slog.LevelDebug - 4}, {"log_debug", slog.LevelDebug}, {"log_info", slog.LevelInfo}, {"log_warn", slog.LevelWarn}, {"log_error", slog.LevelError}} {
		level := lv.level
		fns = append(fns, hostFn{lv.name, vt(i64), nil, func(ctx context.Context, _ api.Module, s []uint64) {
			in := instOf(ctx)
			if level >= e.cfg.guestLogLvl {
				in.guestLog(level, string(in.arena.Bytes(s[0])), "stream", "extism")
			}
		}})
	}
	return fns
}

// extismLevel maps a slog level to Extism's get_log_level numbering
// (trace 0, debug 1, info 2, warn 3, error 4).
func extismLevel(l slog.Level) int32 {
	switch {
	case l < slog.LevelDebug:
		return 0
	case l < slog.LevelInfo:
		return 1
	case l < slog.LevelWarn:
		return 2
	case l < slog.LevelError:
		return 3
	default:
		return 4
	}
}

// userFunc adapts a capability handler to the stack-based calling
// convention (req i64, data i64) -> i64 documented in hostfuncs/abi.
func userFunc(capability string, h abi.Handler) api.GoModuleFunc {
	return func(ctx context.Context, _ api.Module, s []uint64) {
		in := instOf(ctx)
		in.hostCalls++
		if budget := in.p.e.cfg.hostCalls; in.hostCalls > budget {
			s[0] = in.errorDoc(capability, abi.Errorf(abi.CodeLimit, "more than %d capability calls in one call", budget))
			return
		}
		req := in.arena.Bytes(s[0])
		var data []byte
		if s[1] != 0 {
			data = in.arena.Bytes(s[1])
		}
		out, err := h(hostCall{in}, req, data)
		if err != nil {
			in.arena.Adopt(nil) // release a lent buffer before the error document
			var d *policy.Denial
			if errors.As(err, &d) {
				in.denial = d
			}
			s[0] = in.errorDoc(capability, err)
			return
		}
		if hd := in.arena.Adopt(out); hd != 0 {
			s[0] = hd // filled in place (abi.ResponseBuffer): no copy
			return
		}
		if len(out) == 0 {
			s[0] = 0
			return
		}
		hd := in.arena.AllocBytes(out)
		if hd == 0 {
			s[0] = in.errorDoc(capability, abi.Errorf(abi.CodeLimit, "response of %d bytes does not fit in the skill's memory limit", len(out)))
			return
		}
		s[0] = hd
	}
}

// ResponseBuffer implements abi.ResponseBuffer: n bytes of the kernel
// arena that userFunc hands to the guest without a copy when the handler
// returns (a prefix of) them. nil when n does not fit in the arena.
func (h hostCall) ResponseBuffer(n int) []byte {
	if n <= 0 {
		return nil
	}
	return h.in.arena.Lend(uint64(n))
}

var _ abi.ResponseBuffer = hostCall{}

func (in *instance) errorDoc(capability string, err error) uint64 {
	doc := abi.ToDocument(capability, err).Marshal()
	h := in.arena.AllocBytes(doc)
	if h == 0 {
		panic(fmt.Errorf("%s: error document does not fit in kernel memory: %w", capability, err))
	}
	return uint64(-int64(h))
}
