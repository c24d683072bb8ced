/* vigil: the whole public API. */
#ifndef VIGIL_H
#define VIGIL_H

#include "vigil/clock.h"
#include "vigil/coco.h"
#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/err.h"
#include "vigil/event.h"
#include "vigil/frame.h"
#include "vigil/pool.h"
#include "vigil/rules.h"
#include "vigil/session.h"
#include "vigil/source.h"
#include "vigil/tensor.h"
#include "vigil/track.h"

#define VG_VERSION "0.1.0"

#endif
