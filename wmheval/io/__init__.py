"""Files and folders: images, release and submission layouts, manifests, atomic output."""
