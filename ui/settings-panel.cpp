#include "ui/settings-panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include "ui/translator.h"

namespace cyllm::ui {

SettingsPanel::SettingsPanel(const QString& data_dir, QWidget* parent) : QWidget(parent) {
  auto* v = new QVBoxLayout(this);
  general_box_ = new QGroupBox(this);
  general_ = new QFormLayout(general_box_);
  language_ = new QComboBox(general_box_);
  language_->setObjectName(QStringLiteral("language"));
  for (const QString& code : availableLanguages()) language_->addItem(languageName(code), code);
  data_dir_ = new QLabel(data_dir, general_box_);
  data_dir_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  general_->addRow(new QLabel(general_box_), language_);
  general_->addRow(new QLabel(general_box_), data_dir_);
  v->addWidget(general_box_);

  model_box_ = new QGroupBox(this);
  model_form_ = new QFormLayout(model_box_);
  auto* mh = new QHBoxLayout();
  model_ = new QLineEdit(model_box_);
  browse_ = new QPushButton(model_box_);
  mh->addWidget(model_, 1);
  mh->addWidget(browse_);
  load_at_start_ = new QCheckBox(model_box_);
  threads_ = new QSpinBox(model_box_);
  threads_->setRange(0, 1024);
  ctx_ = new QSpinBox(model_box_);
  ctx_->setRange(256, 1 << 20);
  ctx_->setSingleStep(256);
  model_form_->addRow(new QLabel(model_box_), mh);
  model_form_->addRow(QString(), load_at_start_);
  model_form_->addRow(new QLabel(model_box_), threads_);
  model_form_->addRow(new QLabel(model_box_), ctx_);
  v->addWidget(model_box_);
  note_ = new QLabel(this);
  note_->setWordWrap(true);
  v->addWidget(note_);
  v->addStretch();

  QSettings st;
  model_->setText(st.value(QStringLiteral("model/path")).toString());
  load_at_start_->setChecked(st.value(QStringLiteral("model/load_at_start"), true).toBool());
  threads_->setValue(st.value(QStringLiteral("model/threads"), 0).toInt());
  ctx_->setValue(st.value(QStringLiteral("model/ctx"), 4096).toInt());
  language_->setCurrentIndex(std::max(0, language_->findData(currentLanguage())));

  connect(language_, &QComboBox::currentIndexChanged, this,
          [this](int i) { setLanguage(language_->itemData(i).toString()); });
  connect(browse_, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, tr("Model to open at start"), model_->text(), tr("GGUF models (*.gguf)"));
    if (!p.isEmpty()) model_->setText(p);
  });
  connect(model_, &QLineEdit::editingFinished, this, &SettingsPanel::save);
  connect(load_at_start_, &QCheckBox::toggled, this, &SettingsPanel::save);
  connect(threads_, &QSpinBox::valueChanged, this, &SettingsPanel::save);
  connect(ctx_, &QSpinBox::valueChanged, this, &SettingsPanel::save);
  retranslateUi();
}

SettingsPanel::~SettingsPanel() { save(); }

void SettingsPanel::save() {
  QSettings st;
  st.setValue(QStringLiteral("model/path"), model_->text());
  st.setValue(QStringLiteral("model/load_at_start"), load_at_start_->isChecked());
  st.setValue(QStringLiteral("model/threads"), threads_->value());
  st.setValue(QStringLiteral("model/ctx"), ctx_->value());
}

bool SettingsPanel::setLanguage(const QString& code) {
  if (!ui::setLanguage(code)) return false;
  QSettings().setValue(QStringLiteral("ui/language"), code);
  const QSignalBlocker b(language_);
  language_->setCurrentIndex(std::max(0, language_->findData(code)));
  emit languageChanged(code);
  return true;
}

int SettingsPanel::threads() const { return threads_->value(); }
int SettingsPanel::contextTokens() const { return ctx_->value(); }
QString SettingsPanel::startupModel() const { return load_at_start_->isChecked() ? model_->text() : QString(); }

void SettingsPanel::setStartupModel(const QString& path) {
  model_->setText(path);
  save();
}

void SettingsPanel::retranslateUi() {
  general_box_->setTitle(tr("General"));
  const QString g[] = {tr("Language"), tr("Data folder")};
  for (int i = 0; i < 2; ++i)
    if (auto* l = qobject_cast<QLabel*>(general_->itemAt(i, QFormLayout::LabelRole)->widget())) l->setText(g[i]);
  model_box_->setTitle(tr("Model"));
  if (auto* l = qobject_cast<QLabel*>(model_form_->itemAt(0, QFormLayout::LabelRole)->widget())) l->setText(tr("Model file"));
  if (auto* l = qobject_cast<QLabel*>(model_form_->itemAt(2, QFormLayout::LabelRole)->widget())) l->setText(tr("CPU threads"));
  if (auto* l = qobject_cast<QLabel*>(model_form_->itemAt(3, QFormLayout::LabelRole)->widget())) l->setText(tr("Context (tokens)"));
  browse_->setText(tr("Browse…"));
  load_at_start_->setText(tr("Open this model when the workbench starts"));
  threads_->setSpecialValueText(tr("all cores"));
  note_->setText(tr("Threads and context apply the next time a model is opened. API keys, the audit log, the chat "
                    "history and the job queue are kept in the data folder."));
}

void SettingsPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

}  // namespace cyllm::ui
