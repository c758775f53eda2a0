//! The advance widths of the standard Helvetica and Helvetica-Bold fonts for the WinAnsi
//! bytes the PDF writer shows (0x20–0x7E and 0xA0–0xFF), so text can be wrapped by its
//! measured width. Pure data and one function; no I/O.
//!
//! The numbers are Adobe's Core 14 font metrics (Helvetica.afm and Helvetica-Bold.afm,
//! Copyright (c) 1985, 1987, 1989, 1990 Adobe Systems Incorporated; the AFM files "may be used,
//! copied, and distributed for any purpose and without charge"), in thousandths of the font
//! size, laid out by WinAnsi code. A PDF reader lays out the non-embedded standard fonts with
//! these same widths, which is what makes the measurement true on the page. 0x7F–0x9F are 0:
//! the writer never shows them (they become `?`).

/// Which of the two fonts the summary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
}

/// Helvetica, WinAnsi 0x20–0xFF.
const REGULAR: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 584, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1010, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0, // 0x70
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x80
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xa0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xb0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xc0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xd0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xe0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xf0
];

/// Helvetica-Bold, WinAnsi 0x20–0xFF.
const BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 584, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0, // 0x70
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x80
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xa0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xb0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xc0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xd0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xe0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xf0
];

/// The width of one WinAnsi byte in thousandths of the font size (control bytes: 0).
pub fn advance(face: Face, byte: u8) -> u16 {
    let table = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    byte.checked_sub(0x20).map_or(0, |i| table[usize::from(i)])
}

/// The width of WinAnsi `bytes` at `size` points.
pub fn width(face: Face, size: f32, bytes: &[u8]) -> f32 {
    let units: u32 = bytes.iter().map(|b| u32::from(advance(face, *b))).sum();
    units as f32 * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_adobes() {
        // A few from the AFM files, by glyph name: space 278, W 944, i 222 (bold 278),
        // quotesingle 191 (bold 238), grave 333, udieresis 556 (bold 611), germandbls 611.
        assert_eq!(advance(Face::Regular, b' '), 278);
        assert_eq!(advance(Face::Regular, b'W'), 944);
        assert_eq!(advance(Face::Regular, b'i'), 222);
        assert_eq!(advance(Face::Bold, b'i'), 278);
        assert_eq!(advance(Face::Regular, b'\''), 191);
        assert_eq!(advance(Face::Bold, b'\''), 238);
        assert_eq!(advance(Face::Bold, b'`'), 333);
        assert_eq!(advance(Face::Regular, 0xfc), 556);
        assert_eq!(advance(Face::Bold, 0xfc), 611);
        assert_eq!(advance(Face::Regular, 0xdf), 611);
        assert_eq!(advance(Face::Regular, b'\n'), 0);
        // "Hello" at 10 pt: H 722 + e 556 + l 222 + l 222 + o 556 = 2278 → 22.78 pt.
        assert!((width(Face::Regular, 10.0, b"Hello") - 22.78).abs() < 1e-3);
    }
}
