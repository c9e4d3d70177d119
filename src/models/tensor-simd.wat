;; The tensor fill of tensor.ts with WebAssembly SIMD, into a float32 input, planar (NCHW) or
;; interleaved (NHWC): `fill` for a frame already at its placed size (16 pixels per step; into an
;; interleaved input in RGB order only), `resize` for one still to be resized (bilinear, fixed
;; point, as fillTensor). Both write what fillTensor writes, to the bit.
;; tensor-simd.ts holds the frame's pixels and the tensor in this module's memory;
;; scripts/build-wasm.mjs compiles this file into tensor-simd-wasm.ts.
(module
  (memory (export "memory") 1)
  ;; At 0: for each channel (R, G, B), the i8x16.swizzle masks that pick that channel's bytes of
  ;; 16 packed RGB pixels out of the 3 vectors they span (lane index 255 gives 0).
  (data (i32.const 0)
    "\00\03\06\09\0c\0f\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\02\05\08\0b\0e\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\01\04\07\0a\0d"
    "\01\04\07\0a\0d\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\00\03\06\09\0c\0f\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\02\05\08\0b\0e"
    "\02\05\08\0b\0e\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\01\04\07\0a\0d\ff\ff\ff\ff\ff\ff"
    "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\00\03\06\09\0c\0f")

  ;; `n` floats of value `v` from byte address `a`.
  (func $pad (param $a i32) (param $n i32) (param $v f32)
    (local $end i32) (local $vv v128)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vv (f32x4.splat (local.get $v)))
    (block $done
      (loop $wide
        (br_if $done (i32.gt_s (i32.add (local.get $a) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $a) (local.get $vv))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (br $wide)))
    (block $done
      (loop $one
        (br_if $done (i32.ge_s (local.get $a) (local.get $end)))
        (f32.store (local.get $a) (local.get $v))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (br $one))))

  ;; The pad value over `n` columns from byte address `a` of a row: in each of the three planes
  ;; `plane` bytes apart, or, with `plane` 0 (interleaved), over the n pixels' three values.
  (func $padColumns (param $a i32) (param $n i32) (param $v f32) (param $plane i32)
    (if (i32.eqz (local.get $plane))
      (then (call $pad (local.get $a) (i32.mul (local.get $n) (i32.const 3)) (local.get $v)))
      (else
        (call $pad (local.get $a) (local.get $n) (local.get $v))
        (call $pad (i32.add (local.get $a) (local.get $plane)) (local.get $n) (local.get $v))
        (call $pad (i32.add (local.get $a) (i32.shl (local.get $plane) (i32.const 1))) (local.get $n) (local.get $v)))))

  ;; The pad value in row `y` of the W-wide tensor at `dst`, outside columns [ox, ox + pw) (all of
  ;; it when `inside` is 0); `px` is a pixel's size in bytes in a plane row (4, or 12 interleaved).
  (func $padRow (param $row i32) (param $W i32) (param $ox i32) (param $pw i32) (param $inside i32)
    (param $v f32) (param $plane i32) (param $px i32)
    (if (i32.eqz (local.get $inside))
      (then (call $padColumns (local.get $row) (local.get $W) (local.get $v) (local.get $plane)))
      (else
        (call $padColumns (local.get $row) (local.get $ox) (local.get $v) (local.get $plane))
        (call $padColumns
          (i32.add (local.get $row) (i32.mul (i32.add (local.get $ox) (local.get $pw)) (local.get $px)))
          (i32.sub (local.get $W) (i32.add (local.get $ox) (local.get $pw)))
          (local.get $v) (local.get $plane)))))

  ;; Writes the pw x ph packed RGB pixels at `src` into the W x H tensor at `dst` at (ox, oy), each
  ;; byte times `scale`, the channels in BGR order when `bgr` (planar only); the pad value
  ;; everywhere else unless `padDone` (the area already holds it).
  (func (export "fill")
    (param $src i32) (param $dst i32) (param $W i32) (param $H i32) (param $ox i32) (param $oy i32)
    (param $pw i32) (param $ph i32) (param $scale f32) (param $padValue f32) (param $bgr i32) (param $padDone i32)
    (param $nchw i32)
    (local $plane i32) (local $px i32) (local $y i32) (local $sy i32) (local $row i32) (local $x i32) (local $s i32)
    (local $d i32) (local $n i32) (local $c i32) (local $to i32) (local $lo v128) (local $hi v128) (local $sv v128)
    (local $ch v128)
    ;; A plane's size in bytes (0: interleaved), and a pixel's in a plane row.
    (local.set $plane (select (i32.shl (i32.mul (local.get $W) (local.get $H)) (i32.const 2)) (i32.const 0) (local.get $nchw)))
    (local.set $px (select (i32.const 4) (i32.const 12) (local.get $nchw)))
    (local.set $sv (f32x4.splat (local.get $scale)))
    (local.set $y (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_s (local.get $y) (local.get $H)))
        (local.set $row (i32.add (local.get $dst) (i32.mul (i32.mul (local.get $y) (local.get $W)) (local.get $px))))
        ;; sy < 0 wraps to a large unsigned value: the row is outside the frame.
        (local.set $sy (i32.sub (local.get $y) (local.get $oy)))
        (if (i32.eqz (local.get $padDone))
          (then (call $padRow (local.get $row) (local.get $W) (local.get $ox) (local.get $pw)
            (i32.lt_u (local.get $sy) (local.get $ph)) (local.get $padValue) (local.get $plane) (local.get $px))))
        (if (i32.lt_u (local.get $sy) (local.get $ph))
          (then
            (local.set $s (i32.add (local.get $src) (i32.mul (i32.mul (local.get $sy) (local.get $pw)) (i32.const 3))))
            (if (local.get $nchw)
              (then
                ;; Output channel c goes to plane c, or 2 - c in BGR order.
                (local.set $c (i32.const 0))
                (loop $channels
                  (local.set $to (select (i32.sub (i32.const 2) (local.get $c)) (local.get $c) (local.get $bgr)))
                  (local.set $d (i32.add (i32.add (local.get $row) (i32.mul (local.get $to) (local.get $plane))) (i32.shl (local.get $ox) (i32.const 2))))
                  (local.set $x (i32.const 0))
                  (block $wide_done
                    (loop $wide
                      (br_if $wide_done (i32.gt_s (i32.add (local.get $x) (i32.const 16)) (local.get $pw)))
                      ;; Channel c's 16 bytes out of 48, widened to 4 x 4 floats and scaled.
                      (local.set $ch
                        (v128.or
                          (v128.or
                            (i8x16.swizzle (v128.load (local.get $s)) (v128.load (i32.mul (local.get $c) (i32.const 48))))
                            (i8x16.swizzle (v128.load offset=16 (local.get $s)) (v128.load offset=16 (i32.mul (local.get $c) (i32.const 48)))))
                          (i8x16.swizzle (v128.load offset=32 (local.get $s)) (v128.load offset=32 (i32.mul (local.get $c) (i32.const 48))))))
                      (local.set $lo (i16x8.extend_low_i8x16_u (local.get $ch)))
                      (local.set $hi (i16x8.extend_high_i8x16_u (local.get $ch)))
                      (v128.store (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $sv)))
                      (v128.store offset=16 (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $sv)))
                      (v128.store offset=32 (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $sv)))
                      (v128.store offset=48 (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $sv)))
                      (local.set $x (i32.add (local.get $x) (i32.const 16)))
                      (local.set $s (i32.add (local.get $s) (i32.const 48)))
                      (local.set $d (i32.add (local.get $d) (i32.const 64)))
                      (br $wide)))
                  ;; The last pw mod 16 pixels one at a time.
                  (local.set $s (i32.add (local.get $s) (local.get $c)))
                  (block $tail_done
                    (loop $tail
                      (br_if $tail_done (i32.ge_s (local.get $x) (local.get $pw)))
                      (f32.store (local.get $d) (f32.mul (f32.convert_i32_u (i32.load8_u (local.get $s))) (local.get $scale)))
                      (local.set $x (i32.add (local.get $x) (i32.const 1)))
                      (local.set $s (i32.add (local.get $s) (i32.const 3)))
                      (local.set $d (i32.add (local.get $d) (i32.const 4)))
                      (br $tail)))
                  (local.set $s (i32.add (local.get $src) (i32.mul (i32.mul (local.get $sy) (local.get $pw)) (i32.const 3))))
                  (local.set $c (i32.add (local.get $c) (i32.const 1)))
                  (br_if $channels (i32.lt_s (local.get $c) (i32.const 3)))))
              (else
                ;; Interleaved, RGB: the row's bytes in order, each widened and scaled, 16 at a time.
                (local.set $d (i32.add (local.get $row) (i32.mul (local.get $ox) (i32.const 12))))
                (local.set $n (i32.mul (local.get $pw) (i32.const 3)))
                (local.set $x (i32.const 0))
                (block $span_done
                  (loop $span
                    (br_if $span_done (i32.gt_s (i32.add (local.get $x) (i32.const 16)) (local.get $n)))
                    (local.set $ch (v128.load (i32.add (local.get $s) (local.get $x))))
                    (local.set $lo (i16x8.extend_low_i8x16_u (local.get $ch)))
                    (local.set $hi (i16x8.extend_high_i8x16_u (local.get $ch)))
                    (v128.store (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $sv)))
                    (v128.store offset=16 (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $sv)))
                    (v128.store offset=32 (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $sv)))
                    (v128.store offset=48 (local.get $d) (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $sv)))
                    (local.set $x (i32.add (local.get $x) (i32.const 16)))
                    (local.set $d (i32.add (local.get $d) (i32.const 64)))
                    (br $span)))
                (block $rest_done
                  (loop $rest
                    (br_if $rest_done (i32.ge_s (local.get $x) (local.get $n)))
                    (f32.store (local.get $d) (f32.mul (f32.convert_i32_u (i32.load8_u (i32.add (local.get $s) (local.get $x)))) (local.get $scale)))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (local.set $d (i32.add (local.get $d) (i32.const 4)))
                    (br $rest)))))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows))))

  ;; Resizes the sw-wide packed RGB source at `src` to pw x ph and writes it as `fill` does, into a
  ;; planar or interleaved input, in either channel order.
  ;; `taps` holds four i32 tables (tensor.ts's bilinearTaps): per output column its left source
  ;; column and the right one's weight (of 2048), then the same per output row. Each output row
  ;; first blends its two source rows into `rowbuf` (sw * 3 + 1 i32), 16 bytes per step, then
  ;; takes each pixel's pair from there: the integer sum is the one fillTensor computes, exact.
  (func (export "resize")
    (param $src i32) (param $dst i32) (param $W i32) (param $H i32) (param $ox i32) (param $oy i32)
    (param $pw i32) (param $ph i32) (param $sw i32) (param $taps i32) (param $rowbuf i32)
    (param $unit f32) (param $padValue f32) (param $bgr i32) (param $padDone i32) (param $nchw i32)
    (local $plane i32) (local $px i32) (local $y i32) (local $sy i32) (local $row i32) (local $x i32) (local $j i32)
    (local $n i32) (local $r0 i32) (local $w i32) (local $d i32) (local $a i32)
    (local $rows i32) (local $or i32) (local $og i32) (local $ob i32)
    (local $gy v128) (local $fy v128) (local $top v128) (local $bottom v128) (local $t v128) (local $b v128)
    (local $uv v128) (local $f v128)
    (local.set $plane (select (i32.shl (i32.mul (local.get $W) (local.get $H)) (i32.const 2)) (i32.const 0) (local.get $nchw)))
    (local.set $px (select (i32.const 4) (i32.const 12) (local.get $nchw)))
    ;; Where a pixel's R, G and B go from its first value: a plane apart, or 4 bytes apart.
    (local.set $og (select (local.get $plane) (i32.const 4) (local.get $nchw)))
    (local.set $or (select (i32.shl (local.get $og) (i32.const 1)) (i32.const 0) (local.get $bgr)))
    (local.set $ob (select (i32.const 0) (i32.shl (local.get $og) (i32.const 1)) (local.get $bgr)))
    (local.set $n (i32.mul (local.get $sw) (i32.const 3)))
    (local.set $rows (i32.add (local.get $taps) (i32.shl (local.get $pw) (i32.const 3))))
    (local.set $uv (f32x4.splat (local.get $unit)))
    (local.set $y (i32.const 0))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_s (local.get $y) (local.get $H)))
        (local.set $row (i32.add (local.get $dst) (i32.mul (i32.mul (local.get $y) (local.get $W)) (local.get $px))))
        (local.set $sy (i32.sub (local.get $y) (local.get $oy)))
        (if (i32.eqz (local.get $padDone))
          (then (call $padRow (local.get $row) (local.get $W) (local.get $ox) (local.get $pw)
            (i32.lt_u (local.get $sy) (local.get $ph)) (local.get $padValue) (local.get $plane) (local.get $px))))
        (if (i32.lt_u (local.get $sy) (local.get $ph))
          (then
            ;; The two source rows, blended: rowbuf[j] = top[j] * (2048 - w) + bottom[j] * w.
            (local.set $w (i32.load (i32.add (local.get $rows) (i32.shl (i32.add (local.get $sy) (local.get $ph)) (i32.const 2)))))
            (local.set $r0 (i32.add (local.get $src)
              (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $sy) (i32.const 2)))) (local.get $n))))
            (local.set $gy (i32x4.splat (i32.sub (i32.const 2048) (local.get $w))))
            (local.set $fy (i32x4.splat (local.get $w)))
            (local.set $j (i32.const 0))
            (block $wide_done
              (loop $wide
                (br_if $wide_done (i32.gt_s (i32.add (local.get $j) (i32.const 16)) (local.get $n)))
                (local.set $top (v128.load (i32.add (local.get $r0) (local.get $j))))
                (local.set $bottom (v128.load (i32.add (i32.add (local.get $r0) (local.get $n)) (local.get $j))))
                (local.set $d (i32.add (local.get $rowbuf) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $t (i16x8.extend_low_i8x16_u (local.get $top)))
                (local.set $b (i16x8.extend_low_i8x16_u (local.get $bottom)))
                (v128.store (local.get $d) (i32x4.add
                  (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $t)) (local.get $gy))
                  (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $b)) (local.get $fy))))
                (v128.store offset=16 (local.get $d) (i32x4.add
                  (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $t)) (local.get $gy))
                  (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $b)) (local.get $fy))))
                (local.set $t (i16x8.extend_high_i8x16_u (local.get $top)))
                (local.set $b (i16x8.extend_high_i8x16_u (local.get $bottom)))
                (v128.store offset=32 (local.get $d) (i32x4.add
                  (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $t)) (local.get $gy))
                  (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $b)) (local.get $fy))))
                (v128.store offset=48 (local.get $d) (i32x4.add
                  (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $t)) (local.get $gy))
                  (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $b)) (local.get $fy))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $wide)))
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_s (local.get $j) (local.get $n)))
                (i32.store (i32.add (local.get $rowbuf) (i32.shl (local.get $j) (i32.const 2)))
                  (i32.add
                    (i32.mul (i32.load8_u (i32.add (local.get $r0) (local.get $j))) (i32.sub (i32.const 2048) (local.get $w)))
                    (i32.mul (i32.load8_u (i32.add (i32.add (local.get $r0) (local.get $n)) (local.get $j))) (local.get $w))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $tail)))
            ;; Each output pixel: its pair's R G B (and one more lane) from the blended row, weighted.
            (local.set $x (i32.const 0))
            (local.set $d (i32.add (local.get $row) (i32.mul (local.get $ox) (local.get $px))))
            (block $px_done
              (loop $each_px
                (br_if $px_done (i32.ge_s (local.get $x) (local.get $pw)))
                (local.set $a (i32.add (local.get $rowbuf)
                  (i32.mul (i32.load (i32.add (local.get $taps) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 12))))
                (local.set $w (i32.load (i32.add (local.get $taps) (i32.shl (i32.add (local.get $x) (local.get $pw)) (i32.const 2)))))
                (local.set $f (f32x4.mul
                  (f32x4.convert_i32x4_s (i32x4.add
                    (i32x4.mul (v128.load (local.get $a)) (i32x4.splat (i32.sub (i32.const 2048) (local.get $w))))
                    (i32x4.mul (v128.load offset=12 (local.get $a)) (i32x4.splat (local.get $w)))))
                  (local.get $uv)))
                (f32.store (i32.add (local.get $d) (local.get $or)) (f32x4.extract_lane 0 (local.get $f)))
                (f32.store (i32.add (local.get $d) (local.get $og)) (f32x4.extract_lane 1 (local.get $f)))
                (f32.store (i32.add (local.get $d) (local.get $ob)) (f32x4.extract_lane 2 (local.get $f)))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (local.set $d (i32.add (local.get $d) (local.get $px)))
                (br $each_px)))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $each_row))))
)
