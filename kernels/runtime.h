// The device runtime behind the allocator and tensor copies, one per GPU-like device. It is
// written once against the CUDA runtime API (kernels/runtime.cu): under nvcc it talks to the GPU,
// under the emulator to host memory.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/dispatch.h"

I2V_DECLARE_GPU(
    // Throws on failure (out of memory included); 0 bytes gives nullptr.
    void* device_malloc(size_t bytes);
    void device_free(void* pointer);
    void copy_host_to_device(void* dst, const void* src, size_t bytes);
    void copy_device_to_host(void* dst, const void* src, size_t bytes);
    void copy_device_to_device(void* dst, const void* src, size_t bytes);
    void device_memset(void* pointer, int byte, size_t bytes);
    void device_synchronize();
    // Number of devices that answer; 0 (and `reason` says why) when none does.
    int device_count(std::string* reason);
    std::string device_name();
    // Makes GPU `index` the one this process (thread) uses: a distributed run's rank uses the GPU
    // of its local rank.
    void select_device(int index);)
