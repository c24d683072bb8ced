/*
 * The 80 COCO detection class names, in the order YOLO and NanoDet use.
 * Plain data in core, so that the settings loader (core) can check the
 * class names of a config file without depending on the detector.
 *
 *   int id = vg_coco_class_id("person");   // 0
 *   const char *n = vg_coco_class_name(2); // "car"
 *
 * Thread-safe; no allocation.
 */
#ifndef VIGIL_COCO_H
#define VIGIL_COCO_H

#define VG_COCO_CLASSES 80

/* Name of COCO class id ("person" for 0), or NULL outside 0..79. */
const char *vg_coco_class_name(int class_id);

/* Looks a COCO class name up; returns its id, or -1 (also for NULL). */
int vg_coco_class_id(const char *name);

#endif
