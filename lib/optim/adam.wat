;; Adam's update of one chunk, four float32 lanes at a time, in float32 and in torch.optim.Adam's order:
;;   g' = g + wd·p (wd ≠ 0),  m ← b1·m + c1·g',  v ← b2·v + (c2·g')·g',  p ← p − step·(m / (√v / bc2 + eps))
;; with c1 = 1 − b1, c2 = 1 − b2, step = lr / (1 − b1^t) and bc2 = √(1 − b2^t) computed by the caller in
;; float64 (as Python does) and rounded to float32 once.
;; Memory (4 pages): p at 0, g at 65536, m at 131072, v at 196608, 16384 float32 each. The caller rounds `n`
;; up to a multiple of 4 and zero-fills the lanes past the tensor's end (they compute 0 and are not read).
;; adam_wasm.ts holds the binary, built by scripts/build_wasm.ts; tests/optim/adam_test.ts checks they agree.
(module
  (memory (export "memory") 4 4)
  (func (export "update") (param $n i32) (param $b1s f32) (param $c1s f32) (param $b2s f32) (param $c2s f32)
    (param $wds f32) (param $steps f32) (param $bc2s f32) (param $epss f32)
    (local $i i32) (local $end i32)
    (local $b1 v128) (local $c1 v128) (local $b2 v128) (local $c2 v128) (local $wd v128) (local $keepG v128)
    (local $step v128) (local $bc2 v128) (local $eps v128)
    (local $p v128) (local $g v128) (local $m v128) (local $v v128)
    (local.set $b1 (f32x4.splat (local.get $b1s)))
    (local.set $c1 (f32x4.splat (local.get $c1s)))
    (local.set $b2 (f32x4.splat (local.get $b2s)))
    (local.set $c2 (f32x4.splat (local.get $c2s)))
    (local.set $wd (f32x4.splat (local.get $wds)))
    ;; all ones where wd = 0: g is used as it is (g + 0·p would turn an infinite p into NaN)
    (local.set $keepG (i32x4.splat (f32.eq (local.get $wds) (f32.const 0))))
    (local.set $keepG (i32x4.neg (local.get $keepG)))
    (local.set $step (f32x4.splat (local.get $steps)))
    (local.set $bc2 (f32x4.splat (local.get $bc2s)))
    (local.set $eps (f32x4.splat (local.get $epss)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $p (v128.load (local.get $i)))
        (local.set $g (v128.load offset=65536 (local.get $i)))
        (local.set $g (v128.bitselect (local.get $g)
          (f32x4.add (local.get $g) (f32x4.mul (local.get $wd) (local.get $p))) (local.get $keepG)))
        (local.set $m (f32x4.add (f32x4.mul (local.get $b1) (v128.load offset=131072 (local.get $i)))
          (f32x4.mul (local.get $c1) (local.get $g))))
        (local.set $v (f32x4.add (f32x4.mul (local.get $b2) (v128.load offset=196608 (local.get $i)))
          (f32x4.mul (f32x4.mul (local.get $c2) (local.get $g)) (local.get $g))))
        (v128.store offset=131072 (local.get $i) (local.get $m))
        (v128.store offset=196608 (local.get $i) (local.get $v))
        (v128.store (local.get $i) (f32x4.sub (local.get $p) (f32x4.mul (local.get $step)
          (f32x4.div (local.get $m)
            (f32x4.add (f32x4.div (f32x4.sqrt (local.get $v)) (local.get $bc2)) (local.get $eps))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))
  ;; p ← p + g over n lanes (n a multiple of 4): adds the steps Adam.stepAsync's worker computed against p = 0
  (func (export "add") (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store (local.get $i)
          (f32x4.add (v128.load (local.get $i)) (v128.load offset=65536 (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))))
