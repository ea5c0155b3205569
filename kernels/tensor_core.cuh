// The tensor-core instructions of sm_80 and later, one small function per PTX instruction, for
// kernel sources (after kernels/gpu.cuh). Fragments are plain register arrays; which matrix
// element each lane's register holds is pictured once, in kernels/tensor_core_fragments.h, with
// the conversions into tf32 and bf16 (to_tf32, to_bf16, pack_bf16x2).
//
//   mma_m16n8k8_tf32(d, a, b, c)    mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
//   mma_m16n8k16_bf16(d, a, b, c)   mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
//   ldmatrix_x{1,2,4}(r, row)       ldmatrix.sync.aligned.m8n8.x{1,2,4}.shared.b16
//   ldmatrix_x{1,2,4}_trans(r, row) ldmatrix.sync.aligned.m8n8.x{1,2,4}.trans.shared.b16
//   cp_async_{4,8,16}(dst, src, n)  cp.async.{ca,ca,cg}.shared.global [dst], [src], size, n
//   cp_async_commit()               cp.async.commit_group
//   cp_async_wait<N>()              cp.async.wait_group N
//   cp_async_wait_all()             cp.async.wait_all
//
// mma and ldmatrix are warp-wide (.sync.aligned): all 32 lanes of a warp execute the same one,
// never under a condition that splits the warp. A cp.async's destination must not be read (nor its
// source written) before the cp_async_wait that completes its group.
//
// Under nvcc these are inline PTX; for the sim device they are warp collectives of the SIMT
// machine (kernels/sim/simt.h) with the same layouts, which also checks the alignment and the
// memory spaces, poisons a cp.async destination until its wait, and reports a partial warp
// (docs/sim.md).
#pragma once

#include <cstdint>

#include "kernels/gpu.cuh"
#include "kernels/tensor_core_fragments.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "kernels/tensor_core.cuh needs sm_80 or later (mma .tf32/.bf16, cp.async)"
#endif

namespace i2v::I2V_GPU_NS {

// ---- mma --------------------------------------------------------------------------------------

// d = a·b + c for a 16×8×8 product of tf32 (a: 16×8 row-major, b: 8×8, c and d: 16×8 f32). a and
// b hold to_tf32() patterns; d may be c.
__device__ __forceinline__ void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                 const float c[4]) {
#if defined(I2V_SIM)
  simt::mma_m16n8k8_tf32(d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

// d = a·b + c for a 16×8×16 product of bf16 (a: 16×16 row-major, b: 16×8, two bf16 a register as
// pack_bf16x2 makes them; c and d: 16×8 f32). d may be c.
__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                  const float c[4]) {
#if defined(I2V_SIM)
  simt::mma_m16n8k16_bf16(d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

// ---- ldmatrix -----------------------------------------------------------------------------------
// `row` is the shared-memory address of the matrix row this lane gives: lanes 8·m .. 8·m+7 give
// rows 0..7 of matrix m (16 bytes each, 16-byte aligned); r[m] receives this lane's fragment of
// matrix m. Lanes beyond the last matrix's give nothing the instruction reads (sm_80 and later).

#if !defined(I2V_SIM)
// The .shared address of a generic pointer into shared memory, as ldmatrix and cp.async take it.
__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* row) {
#if defined(I2V_SIM)
  simt::ldmatrix(r, 1, false, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(shared_address(row))
               : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* row) {
#if defined(I2V_SIM)
  simt::ldmatrix(r, 2, false, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(shared_address(row))
               : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* row) {
#if defined(I2V_SIM)
  simt::ldmatrix(r, 4, false, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* row) {
#if defined(I2V_SIM)
  simt::ldmatrix(r, 1, true, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0])
               : "r"(shared_address(row))
               : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* row) {
#if defined(I2V_SIM)
  simt::ldmatrix(r, 2, true, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(shared_address(row))
               : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* row) {
#if defined(I2V_SIM)
  simt::ldmatrix(r, 4, true, row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
#endif
}

// ---- cp.async -----------------------------------------------------------------------------------
// Copies 4, 8 or 16 bytes from global to shared memory in the background: the first src_bytes
// (0 .. size) come from `global_src`, the rest of the destination is zero-filled, so src_bytes = 0
// writes zeros without reading (padding, edges). Both addresses must be aligned to the size.
// The copy belongs to the group the next cp_async_commit() closes, and its data may be read only
// after a cp_async_wait<N>() that completes that group (and, for other threads' copies, a barrier).

__device__ __forceinline__ void cp_async_4(void* smem_dst, const void* global_src, int src_bytes) {
#if defined(I2V_SIM)
  simt::cp_async(smem_dst, global_src, 4, src_bytes);
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n"
               :
               : "r"(shared_address(smem_dst)), "l"(__cvta_generic_to_global(global_src)), "r"(src_bytes)
               : "memory");
#endif
}

__device__ __forceinline__ void cp_async_8(void* smem_dst, const void* global_src, int src_bytes) {
#if defined(I2V_SIM)
  simt::cp_async(smem_dst, global_src, 8, src_bytes);
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n"
               :
               : "r"(shared_address(smem_dst)), "l"(__cvta_generic_to_global(global_src)), "r"(src_bytes)
               : "memory");
#endif
}

// .cg: 16-byte copies bypass L1 (tiles streamed once through shared memory gain nothing there).
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* global_src, int src_bytes) {
#if defined(I2V_SIM)
  simt::cp_async(smem_dst, global_src, 16, src_bytes);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
               :
               : "r"(shared_address(smem_dst)), "l"(__cvta_generic_to_global(global_src)), "r"(src_bytes)
               : "memory");
#endif
}

// Closes a group of the copies issued since the previous commit (possibly none: an empty group).
__device__ __forceinline__ void cp_async_commit() {
#if defined(I2V_SIM)
  simt::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most the N most recently committed groups are still in flight: every older
// group's data is then in shared memory, for this thread. Copies not yet committed are not
// waited for.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(N >= 0, "cp.async.wait_group takes N >= 0");
#if defined(I2V_SIM)
  simt::cp_async_wait_group(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// Commits the copies not yet committed and waits for every copy of this thread.
__device__ __forceinline__ void cp_async_wait_all() {
#if defined(I2V_SIM)
  simt::cp_async_wait_all();
#else
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

}  // namespace i2v::I2V_GPU_NS
