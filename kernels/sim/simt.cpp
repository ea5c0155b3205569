// The SIMT machine: a fiber per CUDA thread, blocks run one after another (see simt.h).
#include "kernels/sim/simt.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include <boost/context/fiber.hpp>

#include "base/error.h"
#include "kernels/tensor_core_fragments.h"
#include "kernels/trace.h"

#if defined(__SANITIZE_ADDRESS__) || defined(I2V_ADDRESS_SANITIZER)
#include <sanitizer/common_interface_defs.h>
#endif

namespace i2v::simt {

thread_local const ThreadContext* current_thread = nullptr;

namespace {

namespace ctx = boost::context;

// cudaError_t values the launch returns (the numbers are CUDA's own).
constexpr int kCudaSuccess = 0;
constexpr int kCudaErrorInvalidValue = 1;
constexpr int kCudaErrorInvalidConfiguration = 9;

constexpr unsigned kWarpSize = 32;
constexpr unsigned kFullWarp = 0xffffffffu;

// Fiber stacks: kernels keep small arrays in registers, which here live on the fiber's stack.
// AddressSanitizer's redzones need more room.
#if defined(__SANITIZE_ADDRESS__) || defined(I2V_ADDRESS_SANITIZER)
constexpr size_t kStackBytes = 256 * 1024;
#else
constexpr size_t kStackBytes = 64 * 1024;
#endif

// Fiber stacks are reused across blocks and launches: creating 1024 stacks per block would
// cost more than running most kernels. Each stack has a guard page below it, so an overflow
// faults instead of corrupting a neighbour.
class StackPool {
 public:
  ~StackPool() {
    for (void* base : free_) munmap(base, kStackBytes + page_size());
  }

  ctx::stack_context allocate() {
    last_ = take();
    return last_;
  }

  void deallocate(ctx::stack_context& stack) {
    free_.push_back(static_cast<char*>(stack.sp) - kStackBytes - page_size());
  }

  // The stack handed out by the latest allocate(): a fiber's stack, for the sanitizer.
  const ctx::stack_context& last_allocated() const { return last_; }

 private:
  ctx::stack_context take() {
    void* base;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = mmap(nullptr, kStackBytes + page_size(), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      I2V_CHECK(base != MAP_FAILED, "sim: cannot map a {} KiB fiber stack", kStackBytes / 1024);
      mprotect(base, page_size(), PROT_NONE);
    }
    ctx::stack_context stack;
    stack.size = kStackBytes;
    stack.sp = static_cast<char*>(base) + page_size() + kStackBytes;
    return stack;
  }

  static size_t page_size() {
    static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return size;
  }
  std::vector<void*> free_;
  ctx::stack_context last_;
};

// AddressSanitizer must be told about every switch between stacks, or it mistakes the fiber
// stacks for overflows (as Boost's ucontext fibers do it, which Debian's Boost lacks).
struct StackBounds {
  const void* bottom = nullptr;
  size_t size = 0;
};

#if defined(__SANITIZE_ADDRESS__) || defined(I2V_ADDRESS_SANITIZER)
void* begin_switch(const StackBounds& to, bool leaving_for_good = false) {
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(leaving_for_good ? nullptr : &fake_stack, to.bottom, to.size);
  return fake_stack;
}
void end_switch(void* fake_stack, StackBounds* from = nullptr) {
  __sanitizer_finish_switch_fiber(fake_stack, from ? &from->bottom : nullptr, from ? &from->size : nullptr);
}
#else
void* begin_switch(const StackBounds&, bool = false) { return nullptr; }
void end_switch(void*, StackBounds* = nullptr) {}
#endif

// Thrown inside the remaining threads of a block that failed, so their stacks unwind normally.
struct BlockAborted {};

// What boost::context copies into each fiber: a handle on the shared pool.
struct PooledStack {
  StackPool* pool;
  ctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(ctx::stack_context& stack) noexcept { pool->deallocate(stack); }
};

enum class ThreadState { ready, at_barrier, at_warp_op, exited };

// The registers a lane hands to a tensor-core collective, on its own fiber stack: valid while it
// waits there, and read and written by the lane that completes the collective for all 32.
struct MmaOperands {
  float* d;
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
};
struct LdmatrixOperands {
  uint32_t* r;
  const char* row;
};

// A cp.async not yet completed. `group` counts the commits the thread had made when it issued
// the copy: the copies of one group share it, and copies not yet committed have
// group == committed_groups.
struct AsyncCopy {
  char* dst;
  const char* src;
  int size;
  int src_bytes;
  uint64_t group;
};

// Where a block's shared memory lives: the kernel source's static __shared__ variables and the
// launch's dynamic shared memory.
struct SharedRanges {
  const char* static_begin;
  const char* static_end;
  const char* dynamic_begin;
  const char* dynamic_end;

  bool contain(const void* p, size_t bytes) const {
    const char* b = static_cast<const char*>(p);
    return (b >= static_begin && b + bytes <= static_end) || (b >= dynamic_begin && b + bytes <= dynamic_end);
  }
  bool touch(const void* p, size_t bytes) const {
    const char* b = static_cast<const char*>(p);
    return (b < static_end && b + bytes > static_begin) || (b < dynamic_end && b + bytes > dynamic_begin);
  }
  std::string describe() const {
    return fmt::format("static __shared__ [{}, {}), dynamic [{}, {})", fmt::ptr(static_begin), fmt::ptr(static_end),
                       fmt::ptr(dynamic_begin), fmt::ptr(dynamic_end));
  }
};

struct SimThread {
  ThreadContext context;
  unsigned linear = 0;  // threadIdx.x + threadIdx.y * blockDim.x + ...
  ThreadState state = ThreadState::ready;
  ctx::fiber fiber;      // the thread, while it is suspended
  ctx::fiber scheduler;  // where the thread returns to when it blocks
  StackBounds stack;     // the fiber's stack
  std::exception_ptr error;
  // The warp collective this thread waits in, and its result once the warp completes it.
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  uint64_t value = 0;
  int lane_param = 0;
  int width = 0;
  uint64_t result = 0;
  void* operands = nullptr;  // a tensor-core collective's MmaOperands or LdmatrixOperands
  // The cp.async copies this thread issued and has not completed, in issue order. They live
  // with the thread, not the warp or block, as on the GPU: only the issuing thread's
  // cp.async.wait_group completes them, whatever order the schedule runs the threads in.
  std::vector<AsyncCopy> async_copies;
  uint64_t committed_groups = 0;
};

struct Warp {
  unsigned lanes = 0;    // lanes that exist (a block's last warp may be partial)
  unsigned waiting = 0;  // lanes waiting in a collective
  unsigned exited = 0;
};

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::sync: return "__syncwarp";
    case WarpOp::shfl_idx: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::any: return "__any_sync";
    case WarpOp::all: return "__all_sync";
    case WarpOp::mma_m16n8k8_tf32: return "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32";
    case WarpOp::mma_m16n8k16_bf16: return "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";
    case WarpOp::ldmatrix_x1: return "ldmatrix.sync.aligned.m8n8.x1.shared.b16";
    case WarpOp::ldmatrix_x2: return "ldmatrix.sync.aligned.m8n8.x2.shared.b16";
    case WarpOp::ldmatrix_x4: return "ldmatrix.sync.aligned.m8n8.x4.shared.b16";
    case WarpOp::ldmatrix_x1_trans: return "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16";
    case WarpOp::ldmatrix_x2_trans: return "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16";
    case WarpOp::ldmatrix_x4_trans: return "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16";
  }
  return "?";
}

bool is_mma(WarpOp op) { return op == WarpOp::mma_m16n8k8_tf32 || op == WarpOp::mma_m16n8k16_bf16; }

bool is_ldmatrix(WarpOp op) {
  switch (op) {
    case WarpOp::ldmatrix_x1: case WarpOp::ldmatrix_x2: case WarpOp::ldmatrix_x4:
    case WarpOp::ldmatrix_x1_trans: case WarpOp::ldmatrix_x2_trans: case WarpOp::ldmatrix_x4_trans:
      return true;
    default:
      return false;
  }
}

WarpOp ldmatrix_op(int matrices, bool trans) {
  switch (matrices) {
    case 1: return trans ? WarpOp::ldmatrix_x1_trans : WarpOp::ldmatrix_x1;
    case 2: return trans ? WarpOp::ldmatrix_x2_trans : WarpOp::ldmatrix_x2;
    case 4: return trans ? WarpOp::ldmatrix_x4_trans : WarpOp::ldmatrix_x4;
  }
  I2V_THROW("sim: ldmatrix loads 1, 2 or 4 matrices, not {}", matrices);
}

int ldmatrix_matrices(WarpOp op) {
  switch (op) {
    case WarpOp::ldmatrix_x1: case WarpOp::ldmatrix_x1_trans: return 1;
    case WarpOp::ldmatrix_x2: case WarpOp::ldmatrix_x2_trans: return 2;
    default: return 4;
  }
}

bool ldmatrix_trans(WarpOp op) {
  return op == WarpOp::ldmatrix_x1_trans || op == WarpOp::ldmatrix_x2_trans || op == WarpOp::ldmatrix_x4_trans;
}

std::string block_name(const uint3& b) { return fmt::format("block ({},{},{})", b.x, b.y, b.z); }

std::string thread_name(const SimThread& t) {
  const uint3& i = t.context.thread_idx;
  return fmt::format("thread ({},{},{}) of {}", i.x, i.y, i.z, block_name(t.context.block_idx));
}

// The block a ScheduleRecorder watches, and where its events go.
struct Recording {
  uint3 block;
  std::vector<ScheduleEvent>* sink;
  uint64_t steps = 0;     // resumes recorded so far, over all launches
  unsigned launches = 0;  // launches whose block was recorded
};

// Records one run of the watched block: numbers the steps, and each thread's barriers and
// collectives, which the events carry.
class BlockTrace {
 public:
  BlockTrace(Recording& recording, size_t threads)
      : recording_(recording), launch_(recording.launches++), barriers_(threads, 0), collectives_(threads, 0) {}

  void resumed(unsigned thread) {
    step_ = recording_.steps++;
    add(thread, ScheduleEvent::Kind::resume, WarpOp::sync, 0);
  }
  void reached_barrier(unsigned thread) {
    add(thread, ScheduleEvent::Kind::barrier, WarpOp::sync, ++barriers_[thread]);
  }
  void reached_collective(unsigned thread, WarpOp op) {
    add(thread, ScheduleEvent::Kind::warp_collective, op, ++collectives_[thread]);
  }
  void exited(unsigned thread) { add(thread, ScheduleEvent::Kind::exit, WarpOp::sync, 0); }

 private:
  void add(unsigned thread, ScheduleEvent::Kind kind, WarpOp op, unsigned ordinal) {
    recording_.sink->push_back(ScheduleEvent{step_, launch_, thread, kind, op, ordinal});
  }

  Recording& recording_;
  const unsigned launch_;
  uint64_t step_ = 0;  // the step of the resume that runs the current thread
  std::vector<unsigned> barriers_, collectives_;  // per thread, reached so far
};

struct Machine {
  std::mutex mutex;  // one launch at a time: static shared memory is one copy per process
  Schedule schedule = Schedule::in_order;
  uint64_t seed = 0;
  std::mt19937_64 rng{0};
  std::optional<Recording> recording;  // set while a ScheduleRecorder lives
  StackPool stacks;
  std::map<const void*, size_t> max_dynamic_shared;  // per kernel, set by cudaFuncSetAttribute
  std::vector<unsigned char> dynamic_shared;
  Stats stats;
};

Machine& machine() {
  static Machine m;
  return m;
}

// Runs one block to completion.
class BlockRun {
 public:
  BlockRun(const LaunchSite& site, const LaunchConfig& config, const uint3& block_idx, const SharedRanges& shared,
           const std::function<void()>& body)
      : site_(site), body_(body), shared_(shared), threads_(config.block.x * config.block.y * config.block.z) {
    const dim3& bd = config.block;
    for (unsigned z = 0, linear = 0; z < bd.z; ++z)
      for (unsigned y = 0; y < bd.y; ++y)
        for (unsigned x = 0; x < bd.x; ++x, ++linear) {
          SimThread& t = threads_[linear];
          t.context = ThreadContext{uint3{x, y, z}, block_idx, config.block, config.grid};
          t.linear = linear;
        }
    warps_.resize((threads_.size() + kWarpSize - 1) / kWarpSize);
    for (size_t i = 0; i < threads_.size(); ++i) warps_[i / kWarpSize].lanes |= 1u << (i % kWarpSize);
    std::optional<Recording>& recording = machine().recording;
    if (recording && recording->block.x == block_idx.x && recording->block.y == block_idx.y &&
        recording->block.z == block_idx.z)
      trace_.emplace(*recording, threads_.size());
  }

  void run() {
    Machine& m = machine();
    for (SimThread& t : threads_) {
      t.fiber = ctx::fiber(std::allocator_arg, PooledStack{&m.stacks},
                           [this, &t](ctx::fiber&& scheduler) { return thread_main(t, std::move(scheduler)); });
      const ctx::stack_context& stack = m.stacks.last_allocated();
      t.stack = StackBounds{static_cast<char*>(stack.sp) - stack.size, stack.size};
    }
    std::vector<unsigned> runnable;
    size_t exited = 0;
    while (exited < threads_.size()) {
      runnable.clear();
      for (const SimThread& t : threads_)
        if (t.state == ThreadState::ready) runnable.push_back(t.linear);
      if (runnable.empty()) abort_block(deadlock_report());
      if (m.schedule == Schedule::shuffled) std::shuffle(runnable.begin(), runnable.end(), m.rng);
      for (unsigned i : runnable) {
        SimThread& t = threads_[i];
        if (t.state != ThreadState::ready) continue;
        if (trace_) trace_->resumed(t.linear);
        resume(t);
        if (t.error) abort_block(t.error);
        if (t.state == ThreadState::exited) ++exited;
      }
    }
  }

  void syncthreads() {
    SimThread& t = *running_;
    if (exited_ > 0) {
      throw error_here(fmt::format("{} reached __syncthreads() after {} thread(s) of its block exited "
                             "(barrier divergence: a barrier must be reached by every thread)",
                             thread_name(t), exited_));
    }
    if (trace_) trace_->reached_barrier(t.linear);
    t.state = ThreadState::at_barrier;
    if (++at_barrier_ == threads_.size()) {
      at_barrier_ = 0;
      for (SimThread& other : threads_) other.state = ThreadState::ready;
      ++machine().stats.barriers;
      return;
    }
    yield(t);
  }

  uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_param, int width) {
    SimThread& t = *running_;
    const unsigned lane = t.linear % kWarpSize;
    Warp& warp = warps_[t.linear / kWarpSize];
    if (!(mask & (1u << lane)))
      throw error_here(fmt::format("{} (lane {}) called {} with mask {:#010x}, which does not name it",
                             thread_name(t), lane, op_name(op), mask));
    if (mask & ~warp.lanes)
      throw error_here(fmt::format("{} called {} with mask {:#010x}, which names lanes that do not exist "
                             "in its warp (lanes {:#010x}; the block size is not a multiple of 32)",
                             thread_name(t), op_name(op), mask, warp.lanes));
    if (mask & warp.exited)
      throw error_here(fmt::format("{} called {} with mask {:#010x}, which names lanes {:#010x} that "
                             "already exited", thread_name(t), op_name(op), mask, mask & warp.exited));
    if (width < 1 || width > 32 || (width & (width - 1)))
      throw error_here(fmt::format("{}: {} width {} is not a power of two in [1, 32]", thread_name(t),
                             op_name(op), width));
    t.value = value;
    t.lane_param = lane_param;
    t.width = width;
    arrive(t, op, mask);
    return t.result;
  }

  void mma(WarpOp op, MmaOperands& operands) { aligned_collective(op, &operands); }

  void ldmatrix(int matrices, bool trans, LdmatrixOperands& operands) {
    const WarpOp op = ldmatrix_op(matrices, trans);
    SimThread& t = *running_;
    const unsigned lane = t.linear % kWarpSize;
    if (lane < 8u * unsigned(matrices)) {
      if (reinterpret_cast<uintptr_t>(operands.row) % 16 != 0)
        throw error_here(fmt::format("{} (lane {}) gave {} the row address {}, which is not 16-byte aligned "
                                     "(a row is 16 bytes and must be naturally aligned)",
                                     thread_name(t), lane, op_name(op), fmt::ptr(operands.row)));
      if (!shared_.contain(operands.row, 16))
        throw error_here(fmt::format("{} (lane {}) gave {} the row address {}, which is not in the block's "
                                     "shared memory ({})",
                                     thread_name(t), lane, op_name(op), fmt::ptr(operands.row), shared_.describe()));
    }
    aligned_collective(op, &operands);
  }

  void cp_async(void* dst, const void* src, int size, int src_bytes) {
    SimThread& t = *running_;
    const std::string instruction =
        fmt::format("cp.async.{}.shared.global [{}], [{}], {}, {}", size == 16 ? "cg" : "ca", fmt::ptr(dst),
                    fmt::ptr(src), size, src_bytes);
    if (size != 4 && size != 8 && size != 16)
      throw error_here(fmt::format("{}: {}: a cp.async copies 4, 8 or 16 bytes", thread_name(t), instruction));
    if (src_bytes < 0 || src_bytes > size)
      throw error_here(fmt::format("{}: {}: the source size must be in [0, {}]", thread_name(t), instruction, size));
    if (reinterpret_cast<uintptr_t>(dst) % size != 0 || reinterpret_cast<uintptr_t>(src) % size != 0)
      throw error_here(fmt::format("{}: {}: the destination and the source must be aligned to the copy size",
                                   thread_name(t), instruction));
    if (!shared_.contain(dst, size_t(size)))
      throw error_here(fmt::format("{}: {}: the destination is not in the block's shared memory ({})",
                                   thread_name(t), instruction, shared_.describe()));
    if (shared_.touch(src, size_t(size)))
      throw error_here(fmt::format("{}: {}: the source is in shared memory; cp.async copies from global memory",
                                   thread_name(t), instruction));
    // Until the wait that completes it, the destination holds the poison, not the data: a read
    // before the wait shows up as NaN (or -1).
    std::memset(dst, 0xFF, size_t(size));
    t.async_copies.push_back(
        AsyncCopy{static_cast<char*>(dst), static_cast<const char*>(src), size, src_bytes, t.committed_groups});
    ++machine().stats.async_copies;
  }

  void cp_async_commit() { ++running_->committed_groups; }

  void cp_async_wait_group(int n) {
    SimThread& t = *running_;
    if (n < 0) throw error_here(fmt::format("{}: cp.async.wait_group {}: N must be >= 0", thread_name(t), n));
    // Groups complete in commit order: all but the n most recent committed ones.
    const uint64_t complete_below = t.committed_groups > uint64_t(n) ? t.committed_groups - uint64_t(n) : 0;
    size_t pending = 0;
    for (const AsyncCopy& copy : t.async_copies) {
      if (copy.group < complete_below) {
        std::memcpy(copy.dst, copy.src, size_t(copy.src_bytes));
        std::memset(copy.dst + copy.src_bytes, 0, size_t(copy.size - copy.src_bytes));
      } else {
        t.async_copies[pending++] = copy;
      }
    }
    t.async_copies.resize(pending);
  }

  unsigned active_lanes() const {
    const Warp& warp = warps_[running_->linear / kWarpSize];
    return warp.lanes & ~warp.exited;
  }

 private:
  // Waits in collective `op` until every lane of `mask` has arrived; the last to arrive completes it.
  void arrive(SimThread& t, WarpOp op, unsigned mask) {
    if (trace_) trace_->reached_collective(t.linear, op);
    Warp& warp = warps_[t.linear / kWarpSize];
    t.op = op;
    t.mask = mask;
    t.state = ThreadState::at_warp_op;
    warp.waiting |= 1u << (t.linear % kWarpSize);
    if ((warp.waiting & mask) == mask) {
      complete_warp_collective(t.linear / kWarpSize, mask);
      ++machine().stats.warp_collectives;
    } else {
      yield(t);
    }
  }

  // A `.sync.aligned` instruction: all 32 lanes of a full warp must execute it.
  void aligned_collective(WarpOp op, void* operands) {
    SimThread& t = *running_;
    const unsigned lane = t.linear % kWarpSize;
    const Warp& warp = warps_[t.linear / kWarpSize];
    if (warp.lanes != kFullWarp)
      throw error_here(fmt::format("{} (lane {}) executed {}, which all 32 lanes of a warp must execute "
                                   "(.sync.aligned), but its warp has only lanes {:#010x} (the block size is "
                                   "not a multiple of 32)",
                                   thread_name(t), lane, op_name(op), warp.lanes));
    if (warp.exited)
      throw error_here(fmt::format("{} (lane {}) executed {}, which all 32 lanes of a warp must execute "
                                   "(.sync.aligned), but lanes {:#010x} of its warp already exited",
                                   thread_name(t), lane, op_name(op), warp.exited));
    t.operands = operands;
    t.value = 0;
    t.lane_param = 0;
    t.width = int(kWarpSize);
    arrive(t, op, kFullWarp);
  }

  ctx::fiber thread_main(SimThread& t, ctx::fiber&& scheduler) {
    end_switch(nullptr, &scheduler_stack_);
    t.scheduler = std::move(scheduler);
    try {
      if (!aborting_) {
        body_();
        check_exit(t);
        if (trace_) trace_->exited(t.linear);
      }
    } catch (const BlockAborted&) {
      // The block failed elsewhere; this thread's stack is unwound.
    } catch (...) {
      t.error = std::current_exception();
    }
    t.state = ThreadState::exited;
    ++exited_;
    warps_[t.linear / kWarpSize].exited |= 1u << (t.linear % kWarpSize);
    begin_switch(scheduler_stack_, /*leaving_for_good=*/true);
    return std::move(t.scheduler);
  }

  // A thread must not leave work behind when it exits: cp.async copies nobody will complete, or
  // lanes of its warp waiting for it in a collective (which would wait forever on a GPU).
  void check_exit(const SimThread& t) const {
    if (!t.async_copies.empty())
      throw error_here(fmt::format("{} exited with {} cp.async cop{} (the first to shared address {}) never "
                                   "waited for: a copy's data lands only at the cp.async.wait_group or "
                                   "cp.async.wait_all that completes it",
                                   thread_name(t), t.async_copies.size(), t.async_copies.size() == 1 ? "y" : "ies",
                                   fmt::ptr(t.async_copies.front().dst)));
    const Warp& warp = warps_[t.linear / kWarpSize];
    const unsigned lane_bit = 1u << (t.linear % kWarpSize);
    for (unsigned l = 0; l < kWarpSize; ++l) {
      if (!(warp.waiting >> l & 1u)) continue;
      const SimThread& other = threads_[t.linear / kWarpSize * kWarpSize + l];
      if (other.mask & lane_bit)
        throw error_here(fmt::format("{} waits in {} with mask {:#010x}, which names lane {}, but that lane ({}) "
                                     "already exited without calling it",
                                     thread_name(other), op_name(other.op), other.mask, t.linear % kWarpSize,
                                     thread_name(t)));
    }
  }

  void resume(SimThread& t) {
    running_ = &t;
    current_thread = &t.context;
    void* fake_stack = begin_switch(t.stack);
    t.fiber = std::move(t.fiber).resume();
    end_switch(fake_stack);
    current_thread = nullptr;
  }

  // Called by a thread that must wait: back to the scheduler until it resumes this thread.
  void yield(SimThread& t) {
    void* fake_stack = begin_switch(scheduler_stack_);
    t.scheduler = std::move(t.scheduler).resume();
    end_switch(fake_stack);
    if (aborting_) throw BlockAborted{};
  }

  // Unwinds every thread still suspended, then throws `error`.
  [[noreturn]] void abort_block(std::exception_ptr error) {
    aborting_ = true;
    for (SimThread& t : threads_)
      if (t.state != ThreadState::exited && t.fiber) resume(t);
    std::rethrow_exception(error);
  }

  void complete_warp_collective(unsigned warp_index, unsigned mask) {
    SimThread* lanes = &threads_[warp_index * kWarpSize];
    const SimThread& first = lanes[__builtin_ctz(mask)];
    for (unsigned l = 0; l < kWarpSize; ++l) {
      if (!(mask & (1u << l))) continue;
      const SimThread& o = lanes[l];
      if (o.op != first.op || o.mask != first.mask || o.width != first.width)
        throw error_here(fmt::format("divergent warp collective in warp {} of {}: lane {} called {} "
                               "(mask {:#010x}) while lane {} called {} (mask {:#010x})",
                               warp_index, block_name(first.context.block_idx), __builtin_ctz(mask),
                               op_name(first.op), first.mask, l, op_name(o.op), o.mask));
    }
    if (is_mma(first.op) || is_ldmatrix(first.op)) {
      if (is_mma(first.op)) {
        complete_mma(first.op, lanes);
        ++machine().stats.mma;
      } else {
        complete_ldmatrix(first.op, lanes);
        ++machine().stats.ldmatrix;
      }
      for (unsigned l = 0; l < kWarpSize; ++l) lanes[l].state = ThreadState::ready;
      warps_[warp_index].waiting = 0;
      return;
    }
    uint64_t ballot = 0;
    bool all = true;
    for (unsigned l = 0; l < kWarpSize; ++l) {
      if (!(mask & (1u << l))) continue;
      ballot |= uint64_t(lanes[l].value != 0) << l;
      all = all && lanes[l].value != 0;
    }
    for (unsigned l = 0; l < kWarpSize; ++l) {
      if (!(mask & (1u << l))) continue;
      SimThread& t = lanes[l];
      const unsigned segment = l & ~unsigned(t.width - 1);  // first lane of this lane's segment
      int source = int(l);
      switch (t.op) {
        case WarpOp::shfl_idx: source = int(segment) + (t.lane_param & (t.width - 1)); break;
        case WarpOp::shfl_up:
          if (int(l) - t.lane_param >= int(segment)) source = int(l) - t.lane_param;
          break;
        case WarpOp::shfl_down:
          if (int(l) + t.lane_param < int(segment) + t.width) source = int(l) + t.lane_param;
          break;
        case WarpOp::shfl_xor:
          if (int(l ^ unsigned(t.lane_param)) < int(segment) + t.width) source = int(l ^ unsigned(t.lane_param));
          break;
        default: break;
      }
      switch (t.op) {
        case WarpOp::sync: t.result = 0; break;
        case WarpOp::ballot: t.result = ballot; break;
        case WarpOp::any: t.result = ballot != 0; break;
        case WarpOp::all: t.result = all; break;
        default:
          if (!(mask & (1u << source)))
            throw error_here(fmt::format("lane {} of warp {} in {} reads lane {} with {}, but mask "
                                   "{:#010x} does not name that lane (undefined on a GPU)",
                                   l, warp_index, block_name(t.context.block_idx), source,
                                   op_name(t.op), mask));
          t.result = lanes[source].value;
      }
      t.state = ThreadState::ready;
    }
    warps_[warp_index].waiting &= ~mask;
  }

  // d = a·b + c for the whole warp, from the 32 lanes' fragments (layouts: tensor_core_fragments.h).
  // The products of tf32 or bf16 values are exact in double; they and c are summed in double, then
  // rounded to f32. A tensor core's own order and rounding of the sum are not specified, so
  // kernels are compared with tolerances (docs/sim.md).
  static void complete_mma(WarpOp op, SimThread* lanes) {
    const bool bf16 = op == WarpOp::mma_m16n8k16_bf16;
    const int depth = bf16 ? 16 : 8;
    double a[16][16], b[16][8], c[16][8];
    auto half = [](uint32_t reg, int e) { return uint16_t(reg >> (16 * (e % 2))); };
    for (int l = 0; l < int(kWarpSize); ++l) {
      const MmaOperands& o = *static_cast<const MmaOperands*>(lanes[l].operands);
      if (bf16) {
        for (int e = 0; e < 8; ++e) {
          const FragmentCoord p = mma_m16n8k16_bf16_a(l, e);
          a[p.row][p.col] = bf16_value(half(o.a[e / 2], e));
        }
        for (int e = 0; e < 4; ++e) {
          const FragmentCoord p = mma_m16n8k16_bf16_b(l, e);
          b[p.row][p.col] = bf16_value(half(o.b[e / 2], e));
        }
      } else {
        for (int i = 0; i < 4; ++i) {
          const FragmentCoord p = mma_m16n8k8_tf32_a(l, i);
          a[p.row][p.col] = tf32_operand_value(o.a[i]);
        }
        for (int i = 0; i < 2; ++i) {
          const FragmentCoord p = mma_m16n8k8_tf32_b(l, i);
          b[p.row][p.col] = tf32_operand_value(o.b[i]);
        }
      }
      for (int i = 0; i < 4; ++i) {
        const FragmentCoord p = mma_m16n8_c(l, i);
        c[p.row][p.col] = o.c[i];
      }
    }
    // Every lane's c was read above: d may alias it.
    for (int l = 0; l < int(kWarpSize); ++l) {
      const MmaOperands& o = *static_cast<const MmaOperands*>(lanes[l].operands);
      for (int i = 0; i < 4; ++i) {
        const FragmentCoord p = mma_m16n8_c(l, i);
        double sum = c[p.row][p.col];
        for (int k = 0; k < depth; ++k) sum += a[p.row][k] * b[k][p.col];
        o.d[i] = float(sum);
      }
    }
  }

  // Each lane's registers from the rows the lanes gave (layout: tensor_core_fragments.h).
  static void complete_ldmatrix(WarpOp op, SimThread* lanes) {
    const int matrices = ldmatrix_matrices(op);
    const bool trans = ldmatrix_trans(op);
    // Gathered first, then written: the rows are read before any lane's register changes.
    uint32_t loaded[kWarpSize][4];
    for (int m = 0; m < matrices; ++m)
      for (int l = 0; l < int(kWarpSize); ++l) {
        uint32_t word = 0;
        for (int half = 0; half < 2; ++half) {
          const FragmentCoord p = ldmatrix_m8n8_element(l, half, trans);
          const char* row = static_cast<const LdmatrixOperands*>(lanes[8 * m + p.row].operands)->row;
          uint16_t element;
          std::memcpy(&element, row + 2 * p.col, sizeof element);
          word |= uint32_t(element) << (16 * half);
        }
        loaded[l][m] = word;
      }
    for (int l = 0; l < int(kWarpSize); ++l) {
      uint32_t* r = static_cast<const LdmatrixOperands*>(lanes[l].operands)->r;
      for (int m = 0; m < matrices; ++m) r[m] = loaded[l][m];
    }
  }

  std::exception_ptr deadlock_report() const {
    size_t at_barrier = 0, at_warp = 0;
    std::string warp_detail;
    for (const SimThread& t : threads_) {
      if (t.state == ThreadState::at_barrier) ++at_barrier;
      if (t.state == ThreadState::at_warp_op) {
        if (at_warp++ == 0)
          warp_detail = fmt::format("; e.g. {} waits in {} with mask {:#010x}", thread_name(t),
                                    op_name(t.op), t.mask);
      }
    }
    return std::make_exception_ptr(error_here(fmt::format(
        "deadlock in {}: {} thread(s) wait at __syncthreads(), {} in warp collectives, {} exited{}",
        block_name(threads_[0].context.block_idx), at_barrier, at_warp, exited_, warp_detail)));
  }

  Error error_here(const std::string& message) const {
    return Error(site_.file, site_.line, "", "sim: " + message);
  }

  const LaunchSite& site_;
  const std::function<void()>& body_;
  const SharedRanges shared_;
  std::vector<SimThread> threads_;
  std::vector<Warp> warps_;
  SimThread* running_ = nullptr;
  StackBounds scheduler_stack_;  // the OS thread's stack, where the scheduler runs
  bool aborting_ = false;
  size_t at_barrier_ = 0;
  size_t exited_ = 0;
  std::optional<BlockTrace> trace_;  // when a ScheduleRecorder watches this block
};

thread_local BlockRun* current_block = nullptr;

BlockRun& block() {
  I2V_CHECK(current_block != nullptr, "sim: a device intrinsic was called outside a kernel");
  return *current_block;
}

bool valid_dims(const dim3& d, unsigned max_x, unsigned max_y, unsigned max_z) {
  return d.x >= 1 && d.y >= 1 && d.z >= 1 && d.x <= max_x && d.y <= max_y && d.z <= max_z;
}

}  // namespace

const DeviceLimits& limits() {
  static const DeviceLimits l;
  return l;
}

void set_schedule(Schedule schedule, uint64_t seed) {
  Machine& m = machine();
  std::lock_guard<std::mutex> lock(m.mutex);
  m.schedule = schedule;
  m.seed = seed;
  m.rng.seed(seed);
}

Schedule schedule() { return machine().schedule; }

uint64_t schedule_seed() { return machine().seed; }

int launch(const LaunchSite& site, const SharedUnit& unit, const LaunchConfig& config,
           const std::function<void()>& thread_body) {
  const DeviceLimits& lim = limits();
  const dim3& b = config.block;
  const dim3& g = config.grid;
  // What CUDA 13 answers on an H200 (measured): a block over the limits is an invalid value,
  // a grid over them an invalid configuration.
  if (!valid_dims(b, lim.max_block_dim_x, lim.max_block_dim_y, lim.max_block_dim_z) ||
      uint64_t(b.x) * b.y * b.z > lim.max_threads_per_block)
    return kCudaErrorInvalidValue;
  if (!valid_dims(g, lim.max_grid_dim_x, lim.max_grid_dim_y, lim.max_grid_dim_z)) return kCudaErrorInvalidConfiguration;

  Machine& m = machine();
  std::lock_guard<std::mutex> lock(m.mutex);
  const size_t static_bytes = size_t(unit.end - unit.begin);
  auto optin = m.max_dynamic_shared.find(config.kernel);
  const size_t dynamic_limit = optin == m.max_dynamic_shared.end() ? lim.dynamic_shared_default : optin->second;
  if (config.dynamic_shared_bytes > dynamic_limit ||
      static_bytes + config.dynamic_shared_bytes > lim.shared_optin_limit)
    return kCudaErrorInvalidValue;

  m.dynamic_shared.resize(config.dynamic_shared_bytes);
  ++m.stats.launches;
  const double trace_start_us = trace::enabled() ? trace::now_us() : 0;
  for (unsigned z = 0; z < g.z; ++z)
    for (unsigned y = 0; y < g.y; ++y)
      for (unsigned x = 0; x < g.x; ++x) {
        // Reads of shared memory no thread of this block wrote show up as NaN or -1.
        // (A kernel without shared memory has null ranges: memset of null is undefined, even for 0.)
        if (static_bytes > 0) std::memset(unit.begin, 0xFF, static_bytes);
        if (!m.dynamic_shared.empty()) std::memset(m.dynamic_shared.data(), 0xFF, m.dynamic_shared.size());
        const char* dynamic = reinterpret_cast<const char*>(m.dynamic_shared.data());
        const SharedRanges shared{unit.begin, unit.end, dynamic, dynamic + m.dynamic_shared.size()};
        BlockRun run(site, config, uint3{x, y, z}, shared, thread_body);
        current_block = &run;
        try {
          run.run();
        } catch (...) {
          current_block = nullptr;
          throw;
        }
        current_block = nullptr;
        ++m.stats.blocks;
        m.stats.threads += uint64_t(b.x) * b.y * b.z;
      }
  if (trace::enabled()) {
    const unsigned grid[3] = {g.x, g.y, g.z}, block[3] = {b.x, b.y, b.z};
    trace::record_launch(site.code, DeviceType::sim, grid, block, config.dynamic_shared_bytes, trace_start_us,
                         trace::now_us() - trace_start_us);
  }
  return kCudaSuccess;
}

int set_max_dynamic_shared(const void* kernel, size_t bytes) {
  if (bytes > limits().shared_optin_limit) return kCudaErrorInvalidValue;
  Machine& m = machine();
  std::lock_guard<std::mutex> lock(m.mutex);
  m.max_dynamic_shared[kernel] = bytes;
  return kCudaSuccess;
}

void* dynamic_shared_memory() {
  block();  // checks that a kernel is running
  return machine().dynamic_shared.data();
}

void syncthreads() { block().syncthreads(); }

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int lane_param, int width) {
  return block().warp_collective(op, mask, value, lane_param, width);
}

unsigned active_lanes() { return block().active_lanes(); }

void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  MmaOperands operands{d, a, b, c};
  block().mma(WarpOp::mma_m16n8k8_tf32, operands);
}

void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  MmaOperands operands{d, a, b, c};
  block().mma(WarpOp::mma_m16n8k16_bf16, operands);
}

void ldmatrix(uint32_t* r, int matrices, bool trans, const void* row) {
  LdmatrixOperands operands{r, static_cast<const char*>(row)};
  block().ldmatrix(matrices, trans, operands);
}

void cp_async(void* shared_dst, const void* global_src, int size, int src_bytes) {
  block().cp_async(shared_dst, global_src, size, src_bytes);
}

void cp_async_commit() { block().cp_async_commit(); }

void cp_async_wait_group(int n) { block().cp_async_wait_group(n); }

void cp_async_wait_all() {
  BlockRun& run = block();
  run.cp_async_commit();
  run.cp_async_wait_group(0);
}

Stats stats() { return machine().stats; }

const char* schedule_event_kind_name(ScheduleEvent::Kind kind) {
  switch (kind) {
    case ScheduleEvent::Kind::resume: return "resume";
    case ScheduleEvent::Kind::barrier: return "barrier";
    case ScheduleEvent::Kind::warp_collective: return "warp_collective";
    case ScheduleEvent::Kind::exit: return "exit";
  }
  return "?";
}

const char* warp_op_name(WarpOp op) { return op_name(op); }

ScheduleRecorder::ScheduleRecorder(uint3 block, std::vector<ScheduleEvent>* sink) {
  Machine& m = machine();
  std::lock_guard<std::mutex> lock(m.mutex);
  I2V_CHECK(!m.recording, "sim: a schedule is already being recorded (one ScheduleRecorder at a time)");
  m.recording = Recording{block, sink};
}

ScheduleRecorder::~ScheduleRecorder() {
  Machine& m = machine();
  std::lock_guard<std::mutex> lock(m.mutex);
  m.recording.reset();
}

}  // namespace i2v::simt
