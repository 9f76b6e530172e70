//! Memory footprint of the image from the linker's symbols (cortex-m-rt's `link.x`), and the peak
//! stack depth by painting the free RAM at boot and finding the lowest overwritten word later.

const PAINT: u32 = 0xDEAD_BEEF;

extern "C" {
    static __vector_table: u32;
    static __sidata: u32;
    static __sdata: u32;
    static __edata: u32;
    static __sheap: u32;
    static _stack_start: u32;
}

fn addr(p: *const u32) -> usize {
    p as usize
}

/// Bytes of flash the image occupies: vectors, code, read-only data (with the model blob), and the
/// initial values of `.data`.
pub fn flash_bytes() -> usize {
    // Only the addresses of the linker symbols are taken, never their contents.
    let data = addr(&raw const __edata) - addr(&raw const __sdata);
    addr(&raw const __sidata) + data - addr(&raw const __vector_table)
}

/// Bytes of RAM for statics (`.data`, `.bss`, `.uninit`).
pub fn static_ram_bytes() -> usize {
    addr(&raw const __sheap) - addr(&raw const __sdata)
}

/// Fills the free RAM between the statics and the current stack frame with a pattern. Call once,
/// early, with interrupts off.
#[inline(never)]
pub fn paint_stack() {
    let sp = cortex_m::register::msp::read() as usize;
    // SAFETY: the range lies between the end of the statics and 64 bytes below this function's own
    // frame: memory nothing uses yet (no heap; no interrupt handlers run).
    unsafe {
        let mut p = addr(&raw const __sheap) as *mut u32;
        let end = (sp - 64) as *mut u32;
        while p < end {
            p.write_volatile(PAINT);
            p = p.add(1);
        }
    }
}

/// Deepest stack use since [`paint_stack`], in bytes below the top of RAM.
pub fn peak_stack_bytes() -> usize {
    // SAFETY: reads the painted region only (below the current frame, above the statics).
    unsafe {
        let top = addr(&raw const _stack_start);
        let mut p = addr(&raw const __sheap) as *const u32;
        while (p as usize) < top && p.read_volatile() == PAINT {
            p = p.add(1);
        }
        top - p as usize
    }
}
