//go:build wasip1

//lint:file-ignore U1000 the plain Extism kernel functions are used by the reef_extism build

package reef

import "unsafe"

//go:wasmimport extism:host/env alloc
func extismAlloc(n uint64) uint64

//go:wasmimport extism:host/env load_u8
func extismLoadU8(p uint64) uint32

//go:wasmimport extism:host/env load_u64
func extismLoadU64(p uint64) uint64

//go:wasmimport extism:host/env store_u8
func extismStoreU8(p uint64, v uint32)

//go:wasmimport extism:host/env store_u64
func extismStoreU64(p uint64, v uint64)

//go:wasmimport extism:host/env input_load_u8
func extismInputLoadU8(p uint64) uint32

//go:wasmimport extism:host/env input_load_u64
func extismInputLoadU64(p uint64) uint64

//go:wasmimport extism:host/env output_set
func extismOutputSet(h, n uint64)

//go:wasmimport extism:host/env error_set
func extismErrorSet(h uint64)

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

//go:wasmimport extism:host/env input_length
func extismInputLength() uint64

//go:wasmimport extism:host/env length
func extismLength(h uint64) uint64

//go:wasmimport extism:host/env free
func extismFree(h uint64)

//go:wasmimport extism:host/env config_get
func extismConfigGet(h uint64) uint64

//go:wasmimport extism:host/env var_get
func extismVarGet(h uint64) uint64

//go:wasmimport extism:host/env var_set
func extismVarSet(k, v uint64)

//go:wasmimport extism:host/env log_info
func extismLogInfo(h uint64)

//go:wasmimport extism:host/env log_debug
func extismLogDebug(h uint64)

//go:wasmimport extism:host/env log_warn
func extismLogWarn(h uint64)

//go:wasmimport extism:host/env log_error
func extismLogError(h uint64)
