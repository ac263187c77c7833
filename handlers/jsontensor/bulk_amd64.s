//go:build !purego

#include "textflag.h"

// The bytes and words vector32s subtracts, compares and multiplies by,
// each broadcast to a vector; then 32 zero bytes and 32 of 0xff, from
// which a load at offset n takes a vector whose last n bytes are kept.
DATA consts<>+0(SB)/8, $0x3030303030303030  // '0'
DATA consts<>+8(SB)/8, $0x0a0a0a0a0a0a0a0a  // 10
DATA consts<>+16(SB)/8, $0x010a010a010a010a // bytes 10, 1
DATA consts<>+24(SB)/8, $0x0001006400010064 // words 100, 1
DATA consts<>+32(SB)/8, $0x0001271000012710 // words 10000, 1
DATA consts<>+72(SB)/8, $-1                 // 40-71 are zeros
DATA consts<>+80(SB)/8, $-1
DATA consts<>+88(SB)/8, $-1
DATA consts<>+96(SB)/8, $-1
GLOBL consts<>(SB), RODATA|NOPTR, $104

// func vector32sAVX2(p *byte, i, limit uint, dst *float32, n int) (k int, at uint, end bool)
//
// A number is checked byte for byte against what fast32sWords takes of
// the same kind: one space, a sign, one to seven integer digits (no
// leading 0 before another), and a '.' with one to nineteen digits or
// none, ending at a ',' or ']'; at most 19 significant digits, below
// 2^63; and unlike fast32sWords, a fraction after a 0 of up to 22 digits
// whose zeros leave it below 2^63 (0.00035327098816828606: Python's repr
// of small numbers). Its value is the same product and check as
// fast32sWords'. The path of the numbers most bodies hold (one integer
// digit) falls through; the rest jump off it and back.
//
// Registers: SI p; BX the number's start s; DI where the next value goes;
// R9 how many values dst has room for; DX the number's separator e; R12
// its digits' start q, then its fraction's value; R13 its sign bit; R14
// its length from q, then its fraction's digits; CX its integer digits;
// AX the bytes that are not digits, then the integer part's value, then
// the float32; R8, R10 and R11 scratch.
TEXT ·vector32sAVX2(SB), NOSPLIT, $0-57
	MOVQ p+0(FP), SI
	MOVQ i+8(FP), BX
	MOVQ dst+24(FP), DI
	MOVQ n+32(FP), R9
	VPBROADCASTQ consts<>+0(SB), Y13
	VPBROADCASTQ consts<>+8(SB), Y12
	VPBROADCASTQ consts<>+16(SB), Y11
	VPBROADCASTQ consts<>+24(SB), Y10
	VPBROADCASTQ consts<>+32(SB), Y9

next:
	MOVQ BX, R12
	CMPB (SI)(R12*1), $0x20 // ' '
	JNE nospace
	INCQ R12

nospace:
	XORL R13, R13
	CMPB (SI)(R12*1), $0x2d // '-'
	JEQ minus

unsigned:
	// AX: which of the 32 bytes at q are not digits; CX: the first of
	// them, after one to seven digits.
	VMOVDQU (SI)(R12*1), Y0
	VPSUBB Y13, Y0, Y0
	VPMAXUB Y12, Y0, Y1
	VPCMPEQB Y1, Y0, Y1
	VPMOVMSKB Y1, AX
	TZCNTL AX, CX
	JEQ out
	CMPL CX, $7
	JA out

	// R14 = L: the number's length from q, to the first non-digit after
	// a '.' at CX (32: none in the load), or CX; DX = e, there, which is
	// a ',' or the ']' that ends the array.
	MOVL CX, R14
	LEAQ (R12)(CX*1), R8
	CMPB (SI)(R8*1), $0x2e // '.'
	JNE separator
	BLSRL AX, AX
	TZCNTL AX, R14

separator:
	LEAQ (R12)(R14*1), DX
	CMPB (SI)(DX*1), $0x2c // ','
	JNE bracket

digits:
	// AX: the integer part's value.
	CMPL CX, $1
	JNE manyint
	MOVBLZX (SI)(R12*1), AX
	SUBL $0x30, AX

intpart:
	// R14: the fraction's digits, with a nonzero integer part nineteen
	// in all, after a 0 up to 22 (invPow10's).
	CMPQ CX, R14
	JEQ integer
	SUBQ CX, R14
	DECQ R14
	JEQ out
	TESTQ AX, AX
	JNE nonzero
	CMPQ R14, $22
	JA out

fraction:
	// R12: the value of the R14 digits that end before e: the 32 bytes
	// that end there, all but those digits zeroed, summed in pairs,
	// fours and eights in each 16-byte lane to B (bytes 8-15) and C, D
	// (16-23, 24-31); bytes 0-7 are zeros. B × 10^16 + (below 10^16) is
	// below 2^63 for B up to 921, and cannot wrap.
	VMOVDQU -32(SI)(DX*1), Y2
	VPSUBB Y13, Y2, Y2
	LEAQ consts<>+40(SB), R8
	VPAND (R8)(R14*1), Y2, Y2
	VPMADDUBSW Y11, Y2, Y2
	VPMADDWD Y10, Y2, Y2
	VPACKUSDW Y2, Y2, Y2
	VPMADDWD Y9, Y2, Y2
	VMOVQ X2, R12
	VEXTRACTI128 $1, Y2, X3
	VMOVQ X3, R8
	SHRQ $32, R12
	CMPQ R12, $921
	JA out
	IMULQ $100000000, R12
	MOVL R8, CX
	ADDQ CX, R12
	IMULQ $100000000, R12
	SHRQ $32, R8
	ADDQ R8, R12
	MOVQ R12, R8
	TESTQ AX, AX
	JNE scaled

convert:
	// R8 × 10^-R14 as fast32sWords has it. Y13 only lends the upper
	// bits, so that no value waits for the last.
	VCVTSI2SDQ R8, X13, X4
	LEAQ ·invPow10(SB), R8
	VMULSD (R8)(R14*8), X4, X4
	VMOVQ X4, R8
	ANDL $0x1fffffff, R8
	SUBL $0x0ffffff0, R8
	CMPL R8, $32
	JLS out
	VCVTSD2SS X4, X13, X4
	VMOVD X4, AX
	XORL R13, AX
	MOVL AX, (DI)
	ADDQ $4, DI
	CMPB (SI)(DX*1), $0x5d // ']'
	JEQ ended
	LEAQ 1(DX), BX
	DECQ R9
	JEQ out
	CMPQ BX, limit+16(FP)
	JLS next
	JMP out

minus:
	MOVL $0x80000000, R13
	INCQ R12
	JMP unsigned

bracket:
	CMPB (SI)(DX*1), $0x5d // ']'
	JNE out
	JMP digits

manyint:
	// The CX digits that begin the word at q, moved to its end, as
	// eight digits with zeros before them (swar8); no leading 0.
	CMPB (SI)(R12*1), $0x30
	JEQ out
	MOVQ (SI)(R12*1), AX
	MOVQ $0x3030303030303030, R8
	SUBQ R8, AX
	MOVL CX, R8
	SHLL $3, R8
	NEGL R8
	ADDL $64, R8
	SHLXQ R8, AX, AX
	MOVQ AX, R8
	SHRQ $8, R8
	IMULQ $10, AX
	ADDQ R8, AX
	MOVQ AX, R8
	SHRQ $16, R8
	MOVQ $0x000000ff000000ff, R10
	ANDQ R10, AX
	ANDQ R10, R8
	MOVQ $0x000f424000000064, R10
	IMULQ R10, AX
	MOVQ $0x0000271000000001, R11
	IMULQ R11, R8
	ADDQ R8, AX
	SHRQ $32, AX
	JMP intpart

nonzero:
	LEAQ (CX)(R14*1), R8
	CMPQ R8, $19
	JA out
	JMP fraction

scaled:
	// mant = integer part × 10^digits + fraction, below 2^63.
	LEAQ ·pow10u(SB), R8
	MOVQ (R8)(R14*8), R8
	IMULQ AX, R8
	ADDQ R12, R8
	JS out
	JMP convert

integer:
	XORL R14, R14
	MOVQ AX, R8
	JMP convert

ended:
	MOVQ DX, BX
	MOVB $1, end+56(FP)
	JMP done

out:
	MOVB $0, end+56(FP)

done:
	MOVQ DI, AX
	SUBQ dst+24(FP), AX
	SHRQ $2, AX
	MOVQ AX, k+40(FP)
	MOVQ BX, at+48(FP)
	VZEROUPPER
	RET
