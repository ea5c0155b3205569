// `i2v vocab build` and `i2v vocab show`: the tag vocabulary of a Danbooru-style dump.
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/data_options.h"
#include "apps/option_checks.h"
#include "base/progress.h"
#include "data/shards.h"
#include "data/vocabulary.h"

namespace i2v::app {
namespace {

void print_vocabulary(const Vocabulary& vocabulary, int64_t top, const std::string& only) {
  std::printf("%s outputs from %s posts (ratings: %s dump)\n", format_count(vocabulary.size()).c_str(),
              format_count(vocabulary.posts()).c_str(), rating_vintage_name(vocabulary.rating_vintage()));
  for (TagCategory category : vocabulary_category_order()) {
    const int64_t count = vocabulary.count(category);
    if (count == 0 || (!only.empty() && only != tag_category_name(category))) continue;
    const int64_t first = vocabulary.first(category);
    std::printf("\n%-9s  outputs %lld..%lld (%lld)\n", tag_category_name(category), static_cast<long long>(first),
                static_cast<long long>(first + count - 1), static_cast<long long>(count));
    const int64_t shown = category == TagCategory::rating ? count : std::min(count, top);
    for (int64_t i = first; i < first + shown; ++i)
      std::printf("  %5lld  %-40s %12s posts\n", static_cast<long long>(i), vocabulary.display_name(i).c_str(),
                  format_count(vocabulary.entry(i).count).c_str());
    if (shown < count) std::printf("  ... %lld more\n", static_cast<long long>(count - shown));
  }
}

void add_vocab_command(CLI::App& app) {
  CLI::App* vocab = app.add_subcommand("vocab", "Build or show the tag vocabulary of a Danbooru-style dump");
  vocab->require_subcommand(1);

  CLI::App* build = vocab->add_subcommand("build", "Count the tags of a dump and keep the most frequent of each category");
  static std::vector<std::string> metadata, shards;
  static std::string output, vintage = "auto";
  static VocabularyOptions options;
  static bool no_ratings = false, force = false;
  static int64_t top = 10;
  static SkipReportOption report;
  build->add_option("--metadata", metadata, "JSON-lines metadata: files or folders of *.json/*.jsonl");
  build->add_option("--shards", shards, "Or WebDataset tar shards of a dump (glob patterns): their samples' metadata");
  build->add_option("--output,-o", output, "The vocabulary JSON to write")->required();
  build->add_option("--general", options.general, "General tags to keep")->capture_default_str()->check(at_least(0));
  build->add_option("--character", options.character, "Character tags to keep")
      ->capture_default_str()->check(at_least(0));
  build->add_option("--copyright", options.copyright, "Copyright tags to keep")
      ->capture_default_str()->check(at_least(0));
  build->add_option("--artist", options.artist, "Artist tags to keep")->capture_default_str()->check(at_least(0));
  build->add_option("--meta", options.meta, "Meta tags to keep")->capture_default_str()->check(at_least(0));
  build->add_flag("--no-ratings", no_ratings, "Leave out the rating outputs");
  build->add_option("--rating-classes", options.rating_classes,
                    "3: safe, questionable, explicit (illustration2vec); 4: general, sensitive, questionable, "
                    "explicit (2022 dumps)")
      ->capture_default_str()->check(in_range(3, 4));
  build->add_option("--rating-vintage", vintage,
                    "auto (2022 when any post is rated g), legacy (s q e: dumps before 2022) or 2022 (g s q e)")
      ->capture_default_str();
  report.add(build);
  build->add_option("--top", top, "Tags to print per category")->capture_default_str()->check(at_least(0));
  add_force_flag(build, force);
  build->footer(
      "Outputs are ordered general, character, copyright, artist, meta, rating: with the defaults\n"
      "512 + 512 + 512 + 3 = 1,539, the order of the original illustration2vec release. Ties in count\n"
      "go to the name that sorts first. Metadata lines that cannot be read are skipped and counted.\n\n"
      "Examples:\n"
      "  i2v vocab build --metadata emoji-dump/metadata.jsonl -o emoji-vocab.json\n"
      "  i2v vocab build --metadata danbooru2020/metadata/ -o vocab.json\n"
      "  i2v vocab build --shards 'danbooru2024/*.tar' -o vocab.json\n"
      "  i2v vocab build --metadata posts.jsonl --general 100 --character 0 --copyright 0 --no-ratings -o attrs.json");
  static const auto work = [] {
    CommandFiles files;
    for (const std::string& m : metadata) files.input("--metadata", m, is_metadata_file);
    std::vector<std::string> sources = metadata;
    for (const std::string& shard : shard_files(shards)) {
      files.input("--shards", shard);
      sources.push_back(shard);
    }
    I2V_CHECK(!sources.empty(), "give --metadata or --shards");
    files.output("-o", output, Existing::needs_force);
    files.output("--report", report.path);
    files.check(force);
    options.ratings = !no_ratings;
    options.vintage = parse_rating_vintage(vintage);
    DataReport report;
    const Vocabulary vocabulary = build_vocabulary(sources, options, report);
    std::fputs(report.summary("metadata").c_str(), stdout);
    vocabulary.save(output);
    print_vocabulary(vocabulary, top, "");
    std::printf("\nwrote %s\n", output.c_str());
  };
  build->callback([] { report.run("i2v vocab build", work); });

  CLI::App* show = vocab->add_subcommand("show", "Print a vocabulary: outputs per category and the top tags");
  static std::string file, category;
  show->add_option("vocabulary", file, "The vocabulary JSON")->required();
  show->add_option("--category", category, "Only this category (general, character, copyright, artist, meta, rating)");
  show->add_option("--top", top, "Tags to print per category")->capture_default_str()->check(at_least(0));
  show->footer("Tag names print with spaces (files keep Danbooru's underscores).\n\n"
               "Example:\n  i2v vocab show emoji-vocab.json --category character --top 20");
  show->callback([] { print_vocabulary(Vocabulary::load(file), top, category); });
}

const bool registered = register_command("vocab", add_vocab_command);

}  // namespace
}  // namespace i2v::app
