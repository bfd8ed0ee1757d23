/* C++'s replaceable operators new and delete, written in C under their
 * Itanium names (x86_64 and aarch64 alike), so that a C++ program's `new`
 * and `delete` reach hakmem's fast paths directly instead of going through
 * its runtime's operator and a second call, and a sized delete's size is
 * checked. The library links no C++ runtime: the program's own is looked
 * up only when an allocation fails — its std::get_new_handler for the
 * handler `new` calls in a loop, and what it needs to throw std::bad_alloc
 * (libstdc++ or libc++). A C program never gets there, so never loads one.
 * The core is compiled with -fexceptions, so that exceptions unwind through
 * these C frames also when LTO merges them into a C++ caller. */
#include "fast.h"

#ifndef HAK_NO_OVERRIDE
#define HAK_EXPORT __attribute__((visibility("default")))

/* Every alignment a plain new gives already (__STDCPP_DEFAULT_NEW_ALIGNMENT__). */
#define NEW_ALIGN 16

typedef void (*new_handler_fn)(void);

/* The C++ runtime's functions and objects this file uses, by weak
 * reference: resolved when the program links its runtime statically with
 * libhakmem.a (libc++ from zig c++), or when the runtime is in the global
 * scope as libhakmem.so loads; null otherwise, when they are looked up by
 * name among the loaded objects (a runtime loaded later, or RTLD_LOCAL).
 * Nothing here makes a program load a C++ runtime. */
#define HAK_CXX_WEAK __attribute__((weak, visibility("default")))
extern new_handler_fn cxx_get_new_handler(void) __asm__("_ZSt15get_new_handlerv") HAK_CXX_WEAK;
extern void *cxx_allocate_exception(size_t) __asm__("__cxa_allocate_exception") HAK_CXX_WEAK;
extern void cxx_throw(void *, void *, void (*)(void *)) __asm__("__cxa_throw") HAK_CXX_WEAK;
extern void cxx_bad_alloc_ctor(void *) __asm__("_ZNSt9bad_allocC1Ev") HAK_CXX_WEAK;
extern void cxx_bad_alloc_dtor(void *) __asm__("_ZNSt9bad_allocD1Ev") HAK_CXX_WEAK;
extern char cxx_bad_alloc_type[] __asm__("_ZTISt9bad_alloc") HAK_CXX_WEAK;
extern char cxx_bad_alloc_vtable[] __asm__("_ZTVSt9bad_alloc") HAK_CXX_WEAK;

/* Itanium ABI: an object's vtable pointer points past the vtable's offset
 * to top and type info. */
#define VTABLE_HEAD (2 * sizeof(void *))

/* A runtime's symbol: its weak reference, else found by name. */
static void *runtime_symbol(void *weak, const char *name) {
    return weak != NULL ? weak : _hak_os_symbol(name, false);
}

/* The program's new-handler, from its C++ runtime; NULL without either. */
static new_handler_fn new_handler(void) {
    new_handler_fn (*get)(void) = (new_handler_fn(*)(void))runtime_symbol(
        (void *)cxx_get_new_handler, "_ZSt15get_new_handlerv");
    return get != NULL ? get() : NULL;
}

/* Throws std::bad_alloc through the program's C++ runtime as its
 * `throw std::bad_alloc()` does under the Itanium ABI (libstdc++ and libc++
 * alike). The object is its vtable pointer, set by the constructor where
 * the runtime exports one (libc++; libstdc++'s is inline) or else from the
 * vtable. Without a runtime, the process stops with one line. */
__attribute__((noreturn, cold)) static void throw_bad_alloc(const char *form, size_t size) {
    void *(*alloc)(size_t) = (void *(*)(size_t))runtime_symbol(
        (void *)cxx_allocate_exception, "__cxa_allocate_exception");
    void (*raise)(void *, void *, void (*)(void *)) = (void (*)(void *, void *, void (*)(void *)))
        runtime_symbol((void *)cxx_throw, "__cxa_throw");
    void (*ctor)(void *) =
        (void (*)(void *))runtime_symbol((void *)cxx_bad_alloc_ctor, "_ZNSt9bad_allocC1Ev");
    void (*dtor)(void *) =
        (void (*)(void *))runtime_symbol((void *)cxx_bad_alloc_dtor, "_ZNSt9bad_allocD1Ev");
    char *vtable = runtime_symbol(cxx_bad_alloc_vtable, "_ZTVSt9bad_alloc");
    void *type = runtime_symbol(cxx_bad_alloc_type, "_ZTISt9bad_alloc");
    if (alloc != NULL && raise != NULL && (ctor != NULL || vtable != NULL) && dtor != NULL &&
        type != NULL) {
        void **e = alloc(sizeof(void *)); /* std::bad_alloc: its vtable pointer */
        if (ctor != NULL) ctor(e);
        else *e = vtable + VTABLE_HEAD;
        raise(e, type, dtor);
    }
    char what[200];
    snprintf(what, sizeof(what),
             "%s: no memory for %zu bytes, and no C++ runtime found to throw std::bad_alloc", form,
             size);
    _hak_fatal(what);
}

static bool pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* The allocation again, for the handler loop: align <= NEW_ALIGN is a plain new. */
static void *retry(size_t size, size_t align) {
    return align <= NEW_ALIGN ? hak_malloc(size) : hak_aligned_alloc(align, size);
}

/* A throwing new that found no memory: the standard's loop — the
 * new-handler, then the allocation again, until one succeeds or there is
 * no handler, when std::bad_alloc is thrown. */
__attribute__((noinline, cold)) static void *new_failed(const char *form, size_t size,
                                                        size_t align) {
    for (;;) {
        new_handler_fn h = new_handler();
        if (h == NULL) throw_bad_alloc(form, size);
        h();
        void *p = retry(size, align);
        if (p != NULL) return p;
    }
}

/* A nothrow new that found no memory: NULL at once when no handler is
 * installed. With one, the standard's nothrow new is the throwing new
 * called in a try block, as the handler may throw std::bad_alloc, and C
 * catches nothing: the C++ runtime's own nothrow form (the next definition
 * after hakmem's) does it, calling the throwing form, hakmem's. Without
 * that form (a runtime linked into the program with hakmem) the loop runs
 * here, and a handler's exception escapes the noexcept form: the program
 * ends (std::terminate). */
__attribute__((noinline, cold)) static void *nothrow_failed(const char *sym, size_t size,
                                                            size_t align, const void *tag) {
    if (new_handler() == NULL) return NULL;
    void *own = _hak_os_symbol(sym, true);
    if (own != NULL && align == 0) return ((void *(*)(size_t, const void *))own)(size, tag);
    if (own != NULL) return ((void *(*)(size_t, size_t, const void *))own)(size, align, tag);
    for (new_handler_fn h = new_handler(); h != NULL; h = new_handler()) {
        h();
        void *p = retry(size, align);
        if (p != NULL) return p;
    }
    return NULL;
}

/* Declares a C++ name (its Itanium mangling) for `target`, a function of
 * this file taking the same leading arguments in the same registers (the
 * ones a form adds after them — std::nothrow_t, std::align_val_t — stay
 * unread). */
#define HAK_CXX_NAME(ident, mangled, target) \
    HAK_EXPORT __typeof__(target) ident __asm__(mangled) __attribute__((alias(#target)));

/* ---- new and new[]: malloc's fast path inlined, their own slow paths ---- */

__attribute__((noinline)) static void *new_slow(size_t size) {
    void *p = _hak_small_slow(size);
    return likely(p != NULL) ? p : new_failed("operator new", size, 0);
}

__attribute__((noinline)) static void *new_big(size_t size) {
    void *p = _hak_big_alloc(size, false);
    return likely(p != NULL) ? p : new_failed("operator new", size, 0);
}

static void *new_plain(size_t size) { return hak_alloc(size, new_slow, new_big); }
HAK_CXX_NAME(cxx_new, "_Znwm", new_plain)
HAK_CXX_NAME(cxx_new_array, "_Znam", new_plain)

/* ---- over-aligned types (alignof > NEW_ALIGN): std::align_val_t ---- */

static void *new_aligned(size_t size, size_t align) {
    /* not a power of two: libstdc++ and libc++ throw as for no memory */
    if (unlikely(!pow2(align))) throw_bad_alloc("operator new (aligned)", size);
    void *p = retry(size, align);
    return likely(p != NULL) ? p : new_failed("operator new (aligned)", size, align);
}
HAK_CXX_NAME(cxx_new_aligned, "_ZnwmSt11align_val_t", new_aligned)
HAK_CXX_NAME(cxx_new_array_aligned, "_ZnamSt11align_val_t", new_aligned)

/* ---- nothrow: NULL instead of std::bad_alloc (the tag, an empty
 * std::nothrow_t, is passed on to the runtime's form) ---- */

static void *new_nothrow(size_t size, const void *tag) {
    void *p = hak_malloc(size);
    return likely(p != NULL) ? p : nothrow_failed("_ZnwmRKSt9nothrow_t", size, 0, tag);
}
HAK_CXX_NAME(cxx_new_nothrow, "_ZnwmRKSt9nothrow_t", new_nothrow)

static void *new_array_nothrow(size_t size, const void *tag) {
    void *p = hak_malloc(size);
    return likely(p != NULL) ? p : nothrow_failed("_ZnamRKSt9nothrow_t", size, 0, tag);
}
HAK_CXX_NAME(cxx_new_array_nothrow, "_ZnamRKSt9nothrow_t", new_array_nothrow)

static void *aligned_nothrow(const char *sym, size_t size, size_t align, const void *tag) {
    if (unlikely(!pow2(align))) return NULL;
    void *p = retry(size, align);
    return likely(p != NULL) ? p : nothrow_failed(sym, size, align, tag);
}

static void *new_aligned_nothrow(size_t size, size_t align, const void *tag) {
    return aligned_nothrow("_ZnwmSt11align_val_tRKSt9nothrow_t", size, align, tag);
}
HAK_CXX_NAME(cxx_new_aligned_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t", new_aligned_nothrow)

static void *new_array_aligned_nothrow(size_t size, size_t align, const void *tag) {
    return aligned_nothrow("_ZnamSt11align_val_tRKSt9nothrow_t", size, align, tag);
}
HAK_CXX_NAME(cxx_new_array_aligned_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t",
             new_array_aligned_nothrow)

/* ---- delete and delete[]: free's fast path inlined; a sized form checks
 * its size there, an aligned one the pointer's alignment (sized.c) ---- */

static void delete_plain(void *p) { hak_free_block(p, false, 0, NULL); }
HAK_CXX_NAME(cxx_delete, "_ZdlPv", delete_plain)
HAK_CXX_NAME(cxx_delete_array, "_ZdaPv", delete_plain)
HAK_CXX_NAME(cxx_delete_nothrow, "_ZdlPvRKSt9nothrow_t", delete_plain)
HAK_CXX_NAME(cxx_delete_array_nothrow, "_ZdaPvRKSt9nothrow_t", delete_plain)

static void delete_sized(void *p, size_t size) {
    hak_free_block(p, true, size, "operator delete");
}
HAK_CXX_NAME(cxx_delete_sized, "_ZdlPvm", delete_sized)

static void delete_array_sized(void *p, size_t size) {
    hak_free_block(p, true, size, "operator delete[]");
}
HAK_CXX_NAME(cxx_delete_array_sized, "_ZdaPvm", delete_array_sized)

static void delete_aligned(void *p, size_t align) {
    _hak_free_aligned_sized_as(p, align, 0, "operator delete (aligned)");
}
HAK_CXX_NAME(cxx_delete_aligned, "_ZdlPvSt11align_val_t", delete_aligned)
HAK_CXX_NAME(cxx_delete_array_aligned, "_ZdaPvSt11align_val_t", delete_aligned)
HAK_CXX_NAME(cxx_delete_aligned_nothrow, "_ZdlPvSt11align_val_tRKSt9nothrow_t", delete_aligned)
HAK_CXX_NAME(cxx_delete_array_aligned_nothrow, "_ZdaPvSt11align_val_tRKSt9nothrow_t",
             delete_aligned)

static void delete_sized_aligned(void *p, size_t size, size_t align) {
    _hak_free_aligned_sized_as(p, align, size, "operator delete (sized, aligned)");
}
HAK_CXX_NAME(cxx_delete_sized_aligned, "_ZdlPvmSt11align_val_t", delete_sized_aligned)
HAK_CXX_NAME(cxx_delete_array_sized_aligned, "_ZdaPvmSt11align_val_t", delete_sized_aligned)
#endif
