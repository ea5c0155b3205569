// The SIMT machine behind the `sim` device: it runs CUDA kernels, compiled by the host
// compiler, on the CPU with CUDA's execution semantics.
//
// Model (see docs/sim.md):
//   - blocks run one after another on the calling OS thread;
//   - every CUDA thread of a block is a fiber (Boost.Context); a fiber runs until it reaches
//     a barrier (__syncthreads), a warp collective (__shfl_sync, __ballot_sync, mma, ldmatrix,
//     ...) or its end, then the next runnable fiber is resumed;
//   - static __shared__ variables and dynamic shared memory are filled with 0xFF bytes (a NaN
//     for floats, -1 for integers) at the start of every block;
//   - a cp.async leaves the poison in its destination until the issuing thread waits for it;
//   - in the shuffled schedule, the runnable threads are resumed in a seeded random order in
//     every pass, so a kernel that relies on an order it did not enforce with a barrier
//     computes a wrong result in a test.
// Misuse that a GPU would hang on or silently get wrong (a barrier some threads skip, a warp
// collective whose mask names an exited lane, a divergent collective, an mma in part of a warp,
// a misaligned ldmatrix or cp.async, a cp.async never waited for) throws i2v::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace i2v::simt {

// CUDA's launch-dimension and index types, in a namespace of their own so that their
// symbols never clash with the real CUDA runtime linked into the same program.
struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// What a running CUDA thread sees as threadIdx, blockIdx, blockDim and gridDim.
struct ThreadContext {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};

// The context of the fiber that is running now; set by the scheduler before each resume.
extern thread_local const ThreadContext* current_thread;

inline const ThreadContext& current() { return *current_thread; }

// Limits the emulated device enforces at launch, those of an sm_90 GPU (H100).
struct DeviceLimits {
  unsigned max_threads_per_block = 1024;
  unsigned max_block_dim_x = 1024, max_block_dim_y = 1024, max_block_dim_z = 64;
  unsigned max_grid_dim_x = 2147483647u, max_grid_dim_y = 65535, max_grid_dim_z = 65535;
  size_t static_shared_limit = 48 * 1024;    // per kernel, without opt-in
  size_t dynamic_shared_default = 48 * 1024; // dynamic shared memory without opt-in
  size_t shared_optin_limit = 227 * 1024;    // static + dynamic, with cudaFuncSetAttribute
};

const DeviceLimits& limits();

enum class Schedule { in_order, shuffled };

// The order in which runnable threads are resumed; `seed` drives the shuffled order.
void set_schedule(Schedule schedule, uint64_t seed);
Schedule schedule();

// The static __shared__ variables of one kernel source file: the linker gathers them into one
// section per file (see cmake/I2vKernels.cmake), which is poisoned at the start of each block.
struct SharedUnit {
  const char* name;
  char* begin;
  char* end;
};

// Where a kernel was launched from, for error messages, and the launch's argument text as written
// (the kernel trace names the kernel from it: kernels/trace.h).
struct LaunchSite {
  const char* file;
  int line;
  const char* code;
};

struct LaunchConfig {
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes;
  const void* kernel;  // identifies the kernel for cudaFuncSetAttribute
};

// Validates the launch as a GPU would and, if it is valid, runs every block of the grid before
// returning. Returns a cudaError_t value (0 on success); errors found while running (deadlock,
// barrier divergence, an exception in a thread) are thrown as i2v::Error.
int launch(const LaunchSite& site, const SharedUnit& unit, const LaunchConfig& config,
           const std::function<void()>& thread_body);

// Raises the dynamic shared memory a kernel may be launched with
// (cudaFuncAttributeMaxDynamicSharedMemorySize). Returns a cudaError_t value.
int set_max_dynamic_shared(const void* kernel, size_t bytes);

// The block's dynamic shared memory (what `extern __shared__` names under nvcc).
void* dynamic_shared_memory();

// __syncthreads(): waits until every thread of the block has arrived.
void syncthreads();

// Warp collectives. Every lane named in `mask` must call the same collective with the same mask;
// the call returns once all of them have arrived. The tensor-core instructions are collectives too.
enum class WarpOp {
  sync, shfl_idx, shfl_up, shfl_down, shfl_xor, ballot, any, all,
  mma_m16n8k8_tf32, mma_m16n8k16_bf16,
  ldmatrix_x1, ldmatrix_x2, ldmatrix_x4, ldmatrix_x1_trans, ldmatrix_x2_trans, ldmatrix_x4_trans,
};
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_param, int width);

// The tensor-core instructions of kernels/tensor_core.cuh, with the fragment layouts of
// kernels/tensor_core_fragments.h. mma and ldmatrix are `.sync.aligned`: every one of the 32
// lanes of a full warp must execute the same one; each lane passes its own registers, and the
// lane that arrives last computes the results of all of them.
//
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 and .m16n8k16 .bf16: d = a·b + c, products
// exact, summed with c in double, then rounded to f32 (d may alias c).
void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]);
void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]);
// ldmatrix.sync.aligned.m8n8.x{matrices}{.trans}.shared.b16: `row` is the address of the row this
// lane gives (lanes 0 .. 8·matrices-1; the others' are ignored), r[0 .. matrices-1] the result.
void ldmatrix(uint32_t* r, int matrices, bool trans, const void* row);

// cp.async.{ca,cg}.shared.global [dst], [src], size, src_bytes: a copy of `size` bytes (4, 8 or 16)
// whose first src_bytes come from `src` and the rest are zeros. The copy is asynchronous: at issue
// the destination is poisoned (0xFF), and the bytes land only when the cp.async.wait_group that
// completes its group runs, in this thread.
void cp_async(void* shared_dst, const void* global_src, int size, int src_bytes);
// cp.async.commit_group: the copies issued since the previous commit become a group.
void cp_async_commit();
// cp.async.wait_group n: completes every committed group but the n most recent. Copies not yet
// committed belong to no group and stay pending.
void cp_async_wait_group(int n);
// cp.async.wait_all: commit, then wait_group 0.
void cp_async_wait_all();

// The lanes of the calling thread's warp that have not exited (__activemask()).
unsigned active_lanes();

// Counters, for tests and the emulator benchmark.
struct Stats {
  uint64_t launches = 0;
  uint64_t blocks = 0;
  uint64_t threads = 0;
  uint64_t barriers = 0;
  uint64_t warp_collectives = 0;  // completed, tensor-core instructions included
  uint64_t mma = 0;               // warp-wide mma instructions
  uint64_t ldmatrix = 0;          // warp-wide ldmatrix instructions
  uint64_t async_copies = 0;      // cp.async, per thread
};
Stats stats();

// The seed set_schedule was last given.
uint64_t schedule_seed();

// Sets the schedule for a scope, then puts back the previous one with its seed (a shuffled order
// starts over from that seed).
class ScheduleScope {
 public:
  ScheduleScope(Schedule schedule, uint64_t seed) : previous_(simt::schedule()), previous_seed_(schedule_seed()) {
    set_schedule(schedule, seed);
  }
  ~ScheduleScope() { set_schedule(previous_, previous_seed_); }
  ScheduleScope(const ScheduleScope&) = delete;
  ScheduleScope& operator=(const ScheduleScope&) = delete;

 private:
  Schedule previous_;
  uint64_t previous_seed_;
};

// ---- Recording one block's schedule (i2v sim-trace, docs/sim.md) ------------------------------
//
// A step is one resume: the scheduler hands a thread the CPU and it runs until it stops at a
// barrier, at a warp collective or at its end. The thread whose arrival completes a barrier or a
// collective (the last to arrive) does not stop there: it runs on within the same step, so one
// step can hold several arrivals of that thread.
struct ScheduleEvent {
  enum class Kind { resume, barrier, warp_collective, exit };
  uint64_t step;    // which resume this happened in, counted from 0 since the recording began
  unsigned launch;  // 0 for the first launch recorded, 1 for the next, ...
  unsigned thread;  // linear index in the block: threadIdx.x + blockDim.x · (threadIdx.y + blockDim.y · threadIdx.z)
  Kind kind;
  WarpOp op;         // warp_collective: which one (sync otherwise)
  unsigned ordinal;  // barrier: the thread's n-th __syncthreads() of the launch, from 1;
                     // warp_collective: its n-th collective; 0 for resume and exit
};

const char* schedule_event_kind_name(ScheduleEvent::Kind kind);  // "resume", "barrier", ...
const char* warp_op_name(WarpOp op);                             // "__shfl_xor_sync", "mma.sync...", ...

// While a ScheduleRecorder lives, each launch appends the events of its block `block` to `sink`,
// in the order they happen (the other blocks run unrecorded). One at a time per process; create
// and destroy it while no kernel runs. Without one, recording costs the scheduler one test of a
// null pointer per resume and arrival.
class ScheduleRecorder {
 public:
  ScheduleRecorder(uint3 block, std::vector<ScheduleEvent>* sink);
  ~ScheduleRecorder();
  ScheduleRecorder(const ScheduleRecorder&) = delete;
  ScheduleRecorder& operator=(const ScheduleRecorder&) = delete;
};

}  // namespace i2v::simt
