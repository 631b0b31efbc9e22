// `cyllm-workbench --screenshots DIR`: fills every panel with realistic content — a real chat
// answer from the model when one is found, a validated demo dataset with problems, the server
// answering real requests — and saves DIR/<panel>.png for each. Works under
// QT_QPA_PLATFORM=offscreen. Uses a temporary data folder and settings, so the user's are left alone.
#pragma once

#include <QString>

namespace cyllm::workbench {

// Returns the process exit code (0: every picture written).
// lang: "" (English) or a language code ("zh_CN"); the pictures are then named <panel>-<lang>.png.
int runScreenshots(const QString& dir, const QString& model_path, const QString& lang = {});

}  // namespace cyllm::workbench
