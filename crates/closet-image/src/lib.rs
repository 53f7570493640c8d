//! OCI image archives built by closet: the pause image and test images.
