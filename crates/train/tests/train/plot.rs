//! Learning curves: an SVG with its title, axes, legend and marks, and a PNG of the
//! figure's size whose pixels are not all one colour.

use crate::common::{temp_dir, trainer};

#[test]
fn curves_draw_to_svg_and_png() {
    let dir = temp_dir("plot");
    let mut t = trainer(3, "sgd:lr=0.05,momentum=0.9");
    t.fit().unwrap();
    let svg = dir.join("curves.svg");
    t.plot(&svg, "a regression MLP").unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    for want in [
        "a regression MLP",
        "loss (log scale)",
        "learning rate",
        "epoch",
        "train, each step",
        "val (ema:decay=0.9 averaged weights)",
        "best epoch",
        "optimizer sgd:lr=0.05,momentum=0.9",
    ] {
        assert!(text.contains(want), "{want:?} missing from the SVG");
    }
    let png = dir.join("curves.png");
    match descent_train::plot::check(&png) {
        Err(e) => assert!(e.to_string().contains("DESCENT_FONT"), "{e}"),
        Ok(()) => {
            t.plot(&png, "a regression MLP").unwrap();
            let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!((info.width, info.height), (1200, 900));
            let pixels = &buf[..info.buffer_size()];
            let dark = pixels
                .chunks(3)
                .filter(|p| p.iter().all(|&c| c < 100))
                .count();
            assert!(dark > 1000, "{dark} dark pixels: no text or axes?");
        }
    }
    assert!(descent_train::plot::check(&dir.join("curves.pdf")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}
