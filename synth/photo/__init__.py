"""From photos to silhouettes and back: photo-like renders of dataset subjects
(`appearance`, `background`, `render`), person segmentation (`segment`; needs the
`[photo]` extra), capture checks (`checks`), both applied to photo files (`capture`),
and the overlay picture of a prediction (`overlay`)."""
