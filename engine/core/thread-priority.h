// Thread priority for the engine's compute threads. A serving process runs the engine beside I/O
// threads (the HTTP server's, the GUI's, the clients' on the same machine); with as many compute
// threads as cores, a woken I/O thread waits for the scheduler to give it a core, and every
// streamed token waits with it. Running the compute threads at a higher nice value (lower
// priority) lets the kernel's wake-up preemption put the I/O thread on a core at once, while the
// engine still gets all the CPU the I/O threads leave (they use little). Raising one's own nice
// value needs no privileges on Linux; lowering it again does, so the level is only ever raised.
#pragma once

namespace cyllm {

// Sets the calling thread's nice value (Linux: per thread) to `nice` (0..19) if that is not lower
// than its current one. False when the call failed or would have needed privileges.
bool set_current_thread_nice(int nice);
// The calling thread's nice value.
int current_thread_nice();

}  // namespace cyllm
