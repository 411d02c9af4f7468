//! `pri_alt!`, `fair_alt!`, `alt!`: selections over guards written in place.
//!
//! Each guard becomes one level of nesting: the level adds its guard to
//! the selection, expands the rest (the last level selects), and runs its
//! body if its guard is the one that fired. Bodies run in place (not in
//! closures), so `break`, `continue`, `return` and `?` work in them.

/// Waits for the first ready guard in written order and runs its body.
///
/// Guards (separated by commas; a block body may omit its comma):
/// - `read(reader) -> v => body`: `v` is `Result<T, ChannelError>`;
/// - `write(writer, value) -> r => body`: `r` is `Result<(), ChannelError>`
///   (`value` is evaluated up front and dropped unsent if another guard
///   fires);
/// - `timeout(duration) => body`: nothing else ready within `duration`;
/// - `skip => body`: nothing else ready now.
///
/// Every body gives a value of the same type, which the macro returns.
///
/// ```
/// use csp_core::{Channel, pri_alt};
/// use std::time::Duration;
///
/// let (a, b) = (Channel::<u32>::buffered(1), Channel::<u32>::buffered(1));
/// let (ra, wa, wb) = (a.reader(), a.writer(), b.writer());
/// let mut rounds = 0;
/// loop {
///     rounds += 1;
///     pri_alt! {
///         read(ra) -> v => { assert_eq!(v, Ok(7)); break; }
///         write(wb, 1) -> r => r.unwrap(), // room for one
///         timeout(Duration::from_millis(10)) => wa.write(7).unwrap(),
///     }
/// }
/// assert_eq!(rounds, 3);
/// ```
#[macro_export]
macro_rules! pri_alt {
    ($($guards:tt)*) => {
        $crate::__csp_alt!(@start [pri] $($guards)*)
    };
}

/// [`pri_alt!`], choosing among the ready guards the one chosen least
/// recently at this call site (state kept per thread), so no ready guard
/// starves. For state you keep yourself, use
/// [`Select::fair_select`](crate::alt::Select::fair_select).
#[macro_export]
macro_rules! fair_alt {
    ($($guards:tt)*) => {
        $crate::__csp_alt!(@start [fair] $($guards)*)
    };
}

/// [`pri_alt!`], choosing any ready guard (a rotating start: no promise,
/// but no systematic bias).
#[macro_export]
macro_rules! alt {
    ($($guards:tt)*) => {
        $crate::__csp_alt!(@start [any] $($guards)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __csp_alt {
    (@start [$pol:ident] $($guards:tt)*) => {{
        let mut __csp_sel = $crate::alt::Select::new();
        match $crate::__csp_alt!(@guard __csp_sel [$pol] $($guards)*) {
            $crate::alt::Step::Done(__csp_r) => __csp_r,
            $crate::alt::Step::Pending(_) => ::core::unreachable!("csp: a selection fired a guard it does not have"),
        }
    }};

    // The last level: select.
    (@guard $sel:ident [$pol:ident]) => {
        $crate::alt::Step::Pending($crate::__csp_alt!(@select $sel $pol))
    };
    (@guard $sel:ident [$pol:ident] , $($rest:tt)*) => {
        $crate::__csp_alt!(@guard $sel [$pol] $($rest)*)
    };

    // read(r) -> v => body
    (@guard $sel:ident [$pol:ident] read($r:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__csp_alt!(@read $sel [$pol] ($r) ($v) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] read($r:expr) -> $v:pat => $body:expr , $($rest:tt)*) => {
        $crate::__csp_alt!(@read $sel [$pol] ($r) ($v) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] read($r:expr) -> $v:pat => $body:expr) => {
        $crate::__csp_alt!(@read $sel [$pol] ($r) ($v) ($body))
    };

    // write(w, x) -> r => body
    (@guard $sel:ident [$pol:ident] write($w:expr, $x:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__csp_alt!(@write $sel [$pol] ($w) ($x) ($v) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] write($w:expr, $x:expr) -> $v:pat => $body:expr , $($rest:tt)*) => {
        $crate::__csp_alt!(@write $sel [$pol] ($w) ($x) ($v) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] write($w:expr, $x:expr) -> $v:pat => $body:expr) => {
        $crate::__csp_alt!(@write $sel [$pol] ($w) ($x) ($v) ($body))
    };

    // timeout(d) => body
    (@guard $sel:ident [$pol:ident] timeout($d:expr) => $body:block $($rest:tt)*) => {
        $crate::__csp_alt!(@plain $sel [$pol] ($sel.timeout($d)) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] timeout($d:expr) => $body:expr , $($rest:tt)*) => {
        $crate::__csp_alt!(@plain $sel [$pol] ($sel.timeout($d)) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] timeout($d:expr) => $body:expr) => {
        $crate::__csp_alt!(@plain $sel [$pol] ($sel.timeout($d)) ($body))
    };

    // skip => body
    (@guard $sel:ident [$pol:ident] skip => $body:block $($rest:tt)*) => {
        $crate::__csp_alt!(@plain $sel [$pol] ($sel.skip()) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] skip => $body:expr , $($rest:tt)*) => {
        $crate::__csp_alt!(@plain $sel [$pol] ($sel.skip()) ($body) $($rest)*)
    };
    (@guard $sel:ident [$pol:ident] skip => $body:expr) => {
        $crate::__csp_alt!(@plain $sel [$pol] ($sel.skip()) ($body))
    };

    (@read $sel:ident [$pol:ident] ($r:expr) ($v:pat) ($body:expr) $($rest:tt)*) => {{
        let __csp_key = $sel.read(&$r);
        match $crate::__csp_alt!(@guard $sel [$pol] $($rest)*) {
            $crate::alt::Step::Pending(mut __csp_done) if __csp_done.index() == __csp_key.index() => {
                let $v = __csp_done.read(__csp_key);
                $crate::alt::Step::Done($body)
            }
            __csp_other => __csp_other,
        }
    }};
    (@write $sel:ident [$pol:ident] ($w:expr) ($x:expr) ($v:pat) ($body:expr) $($rest:tt)*) => {{
        let __csp_key = $sel.write(&$w, $x);
        match $crate::__csp_alt!(@guard $sel [$pol] $($rest)*) {
            $crate::alt::Step::Pending(mut __csp_done) if __csp_done.index() == __csp_key.index() => {
                let $v = __csp_done.write(__csp_key);
                $crate::alt::Step::Done($body)
            }
            __csp_other => __csp_other,
        }
    }};
    (@plain $sel:ident [$pol:ident] ($add:expr) ($body:expr) $($rest:tt)*) => {{
        let __csp_key = $add;
        match $crate::__csp_alt!(@guard $sel [$pol] $($rest)*) {
            $crate::alt::Step::Pending(mut __csp_done) if __csp_done.index() == __csp_key.index() => {
                ::core::mem::drop(__csp_done);
                $crate::alt::Step::Done($body)
            }
            __csp_other => __csp_other,
        }
    }};

    (@select $sel:ident pri) => { $sel.pri_select() };
    (@select $sel:ident any) => { $sel.select() };
    (@select $sel:ident fair) => {{
        ::std::thread_local! {
            static __CSP_FAIR: ::std::cell::RefCell<$crate::alt::Fair> =
                ::std::cell::RefCell::new($crate::alt::Fair::new());
        }
        __CSP_FAIR.with(|__csp_f| $sel.fair_select(&mut __csp_f.borrow_mut()))
    }};
}
