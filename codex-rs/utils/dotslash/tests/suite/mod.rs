mod pinned_shells;
