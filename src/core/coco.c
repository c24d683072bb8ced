/* The 80 COCO detection class names, in the order YOLO and NanoDet use. */
#include <string.h>

#include "vigil/coco.h"

static const char *const coco_names[VG_COCO_CLASSES] = {
    "person",        "bicycle",      "car",
    "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",
    "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",
    "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",
    "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",
    "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball",
    "kite",          "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket",
    "bottle",        "wine glass",   "cup",
    "fork",          "knife",        "spoon",
    "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",
    "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",
    "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",
    "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",
    "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",
    "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush"};

const char *vg_coco_class_name(int class_id)
{
    if (class_id < 0 || class_id >= VG_COCO_CLASSES)
        return NULL;
    return coco_names[class_id];
}

int vg_coco_class_id(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < VG_COCO_CLASSES; i++)
        if (strcmp(coco_names[i], name) == 0)
            return i;
    return -1;
}
